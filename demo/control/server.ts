import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import express from "express";
import type { Express, RequestHandler } from "express";
import helmet from "helmet";
import { createCache } from "redis-ha-session";
import type { RedisCache } from "redis-ha-session";
import { ClusterStack } from "../../harness/ClusterStack.js";
import type { RedisServer } from "../../harness/RedisServer.js";
import { redisCommand } from "../../harness/redisCommand.js";
import type { DemoStack } from "../DemoStack.js";
import { PRODUCTS_TAG } from "../productRoutes.js";
import { SyntheticUsers } from "./SyntheticUsers.js";
import type { Sample } from "./SyntheticUsers.js";

const here = dirname(fileURLToPath(import.meta.url));
const uplot = dirname(createRequire(import.meta.url).resolve("uplot"));

/** A second on the chart: what the users saw, and the queries the database ran meanwhile. */
export type PanelSample = Sample & { dbQueries: number | null };

/** Something that happened, marked on the chart. */
export interface DemoEvent {
  t: number;
  label: string;
}

const HISTORY_SECONDS = 300;

/**
 * The control panel: the stack's topology, buttons to break it, synthetic users and a live chart
 * of what they see, streamed over Server-Sent Events. Its own port, never part of the app.
 */
export function createControlPanel(stack: DemoStack): {
  app: Express;
  users: SyntheticUsers;
  close: () => Promise<void>;
} {
  const app = express();
  const samples: PanelSample[] = [];
  const events: DemoEvent[] = [];
  const streams = new Set<(data: string) => void>();
  const broadcast = (kind: "sample" | "event", payload: unknown) => {
    const data = `event: ${kind}\ndata: ${JSON.stringify(payload)}\n\n`;
    for (const send of streams) send(data);
  };
  const mark = (label: string) => {
    const event = { t: Date.now() / 1000, label };
    events.push(event);
    if (events.length > 200) events.shift();
    broadcast("event", event);
  };
  const users = new SyntheticUsers(stack.url, (seen) => {
    const sample = { ...seen, dbQueries: stack.databaseQueriesPerSecond };
    samples.push(sample);
    if (samples.length > HISTORY_SECONDS) samples.shift();
    broadcast("sample", sample);
  });
  // The panel's own handle on the apps' cache, to flush it as an operator would.
  let cache: RedisCache | undefined;
  /** What "slow the database down" last set. */
  let readDelayMs = 0;
  const productCache = () => {
    const redis = stack.topology?.redisOption;
    if (redis === undefined) throw new Error("stack not started");
    cache ??= createCache({ redis });
    return cache;
  };
  users.start();
  users.setCount(10);

  // Sentinel's view of the master (each shard's, on a Cluster), polled: a failover shows on the
  // chart when it happens.
  const lastMasters = new Map<string, string>();
  const watcher = setInterval(() => {
    void masters().then(
      (current) => {
        for (const [shard, master] of current) {
          const last = lastMasters.get(shard);
          if (last !== undefined && last !== master) {
            mark(`failover${shard === "" ? "" : ` of shard ${shard}`}: ${last} → ${master}`);
          }
          lastMasters.set(shard, master);
        }
      },
      () => undefined,
    );
  }, 500);
  /** The master's name, by shard ("" on Sentinel; the shard's slots on a Cluster). */
  async function masters(): Promise<Map<string, string>> {
    const current = stack.topology;
    if (current === undefined) return new Map();
    if (current instanceof ClusterStack) {
      const shards = await current.shards();
      return new Map(shards.map((shard) => [shard.slots, shard.master.name]));
    }
    return new Map([["", (await current.currentMaster()).name]]);
  }

  app.use(helmet());
  app.use(express.json({ limit: "1kb" }));
  // A page on another site cannot send JSON here without a preflight, which is never allowed.
  const jsonOnly: RequestHandler = (req, res, next) => {
    if (req.is("application/json") === "application/json") next();
    else res.status(415).json({ error: "send Content-Type: application/json" });
  };
  app.get("/", (_req, res) => res.sendFile(join(here, "public", "index.html")));
  app.get("/panel.js", (_req, res) => res.sendFile(join(here, "public", "panel.js")));
  app.get("/panel.css", (_req, res) => res.sendFile(join(here, "public", "panel.css")));
  app.get("/vendor/uPlot.iife.min.js", (_req, res) =>
    res.sendFile(join(uplot, "uPlot.iife.min.js")),
  );
  app.get("/vendor/uPlot.min.css", (_req, res) => res.sendFile(join(uplot, "uPlot.min.css")));

  app.get("/api/state", async (_req, res) => {
    const description = await stack.describe();
    res.json({
      ...description,
      database: { ...description.database, readDelayMs },
      url: stack.url,
      users: users.count,
    });
  });
  // The tail of every Redis and Sentinel log, for when a failover does something unexpected.
  app.get("/api/logs", async (_req, res) => {
    res.type("text/plain").send((await stack.topology?.logs(80)) ?? "");
  });
  app.get("/api/stream", (req, res) => {
    res.set({ "Content-Type": "text/event-stream", "Cache-Control": "no-store" });
    res.flushHeaders();
    const send = (data: string) => res.write(data);
    send(`event: history\ndata: ${JSON.stringify({ samples, events })}\n\n`);
    streams.add(send);
    req.on("close", () => streams.delete(send));
  });

  const action = (run: (req: express.Request) => Promise<string>): RequestHandler[] => [
    jsonOnly,
    (req, res, next) => {
      run(req).then((label) => {
        mark(label);
        res.json({ ok: true, label });
      }, next);
    },
  ];
  const instance = (id: string) => {
    const found = stack.instances.find((candidate) => candidate.id === id);
    if (!found) throw Object.assign(new Error(`no instance ${id}`), { status: 404 });
    return found;
  };
  const topology = () => {
    if (!stack.topology) throw new Error("stack not started");
    return stack.topology;
  };
  /** Sentinel's master, or on a Cluster the master of the shard the request names (by index). */
  const targetMaster = async (req: express.Request): Promise<RedisServer> => {
    const current = topology();
    if (!(current instanceof ClusterStack)) return current.currentMaster();
    const shards = (await stack.describe()).redis.shards ?? [];
    const shard = shards[Number(req.params.index)];
    const master = current.servers.find((server) => server.port === shard?.master.port);
    if (!master) {
      throw Object.assign(new Error(`no shard ${String(req.params.index)}`), { status: 404 });
    }
    return master;
  };
  const killMaster = action(async (req) => {
    const master = await targetMaster(req);
    await master.process.kill();
    return `killed Redis master ${master.name}`;
  });
  const freezeMaster = action(async (req) => {
    const seconds = Math.min(
      60,
      Math.max(1, Number((req.body as { seconds?: unknown }).seconds) || 5),
    );
    const master = await targetMaster(req);
    master.process.pause();
    setTimeout(() => {
      master.process.resume();
      mark(`${master.name} woke up`);
    }, seconds * 1000).unref();
    return `froze Redis master ${master.name} for ${seconds} s`;
  });

  // A planned failover, as an operator runs for maintenance: every node stays up. Sentinel:
  // SENTINEL FAILOVER; Cluster: CLUSTER FAILOVER on a replica of the shard's master.
  const switchover = action(async (req) => {
    const current = topology();
    const master = await targetMaster(req);
    if (current instanceof ClusterStack) {
      const [replica] = await current.replicasOf(master);
      if (!replica)
        throw Object.assign(new Error(`${master.name} has no replica`), { status: 409 });
      await redisCommand(replica.port, "CLUSTER", "FAILOVER");
      return `CLUSTER FAILOVER: ${replica.name} takes over from ${master.name}`;
    }
    const sentinel = current.sentinels.find((node) => node.process.running);
    if (!sentinel) throw Object.assign(new Error("no Sentinel is running"), { status: 409 });
    await redisCommand(sentinel.port, "SENTINEL", "FAILOVER", current.masterName);
    return `SENTINEL FAILOVER of ${master.name}`;
  });
  app.post(
    "/api/instances/:id/kill",
    ...action(async (req) => {
      await instance(String(req.params.id)).kill();
      return `killed ${String(req.params.id)}`;
    }),
  );
  app.post(
    "/api/instances/:id/restart",
    ...action(async (req) => {
      await instance(String(req.params.id)).start();
      return `restarted ${String(req.params.id)}`;
    }),
  );
  app.post("/api/redis/master/kill", ...killMaster);
  app.post("/api/redis/master/switchover", ...switchover);
  app.post("/api/redis/master/freeze", ...freezeMaster);
  // On a Cluster: the master of shard `index` (in slot order, as /api/state lists them).
  app.post("/api/redis/shards/:index/kill", ...killMaster);
  app.post("/api/redis/shards/:index/freeze", ...freezeMaster);
  app.post("/api/redis/shards/:index/switchover", ...switchover);
  app.post(
    "/api/redis/nodes/:name/restart",
    ...action(async (req) => {
      const node = topology().nodes.find((candidate) => candidate.name === req.params.name);
      if (!node)
        throw Object.assign(new Error(`no Redis node ${String(req.params.name)}`), { status: 404 });
      await node.start();
      return `restarted ${node.name}`;
    }),
  );
  app.post(
    "/api/cache/flush",
    ...action(async () => {
      await productCache().invalidateTag(PRODUCTS_TAG);
      return "flushed the cache: every product invalidated";
    }),
  );
  app.post(
    "/api/database/slow",
    ...action(async (req) => {
      const delayMs = Math.min(
        10_000,
        Math.max(0, Math.round(Number((req.body as { delayMs?: unknown }).delayMs) || 0)),
      );
      const database = stack.database;
      if (!database) throw new Error("the database is not started");
      await database.query("demo", `UPDATE demo_settings SET read_delay_ms = ${delayMs}`);
      readDelayMs = delayMs;
      return delayMs === 0
        ? "database back to full speed"
        : `database slowed down: every product read takes ${delayMs} ms more`;
    }),
  );
  app.post(
    "/api/users",
    ...action(async (req) => {
      const count = Math.min(
        100,
        Math.max(0, Math.round(Number((req.body as { count?: unknown }).count) || 0)),
      );
      users.setCount(count);
      return Promise.resolve(`${count} synthetic users`);
    }),
  );

  app.use(((error: { status?: number; message?: string }, _req, res, _next) => {
    res.status(error.status ?? 500).json({ error: error.message ?? "failed" });
  }) as express.ErrorRequestHandler);

  return {
    app,
    users,
    close: async () => {
      clearInterval(watcher);
      await users.stop();
      await cache?.close();
    },
  };
}
