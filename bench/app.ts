// One benchmark app in its own process: the same Express routes on a chosen session store.
// BENCH_STORE: redis-ha-session | redis-ha-session-fsync | redis-ha-session-replica | redis-ha-session-cluster | baseline | connect-redis | connect-redis-7 | memory; BENCH_REDIS:
// the Sentinel topology as JSON; BENCH_BASELINE: for "baseline", a checkout of another commit of
// this library, built (its dist/index.js is loaded). Prints {"listening": port} when ready.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import express from "express";
import type { RequestHandler } from "express";
import session from "express-session";
import { RedisStore } from "connect-redis";
import RedisStore7 from "connect-redis-7";
import { Redis } from "ioredis";
import { createSentinel } from "redis";
import { redisSession } from "redis-ha-session";

/** The Sentinel topology (or, for redis-ha-session-cluster, `{ cluster }`). */
interface Topology {
  sentinels: { host: string; port: number }[];
  name: string;
}

const store = process.env.BENCH_STORE ?? "memory";
const redis = JSON.parse(process.env.BENCH_REDIS ?? "{}") as Topology;
const secret = "benchmark-secret-that-is-long-enough-to-pass";
// The same express-session settings for every store (express-session's defaults; redisSession's
// own default `rolling: true` would add a Set-Cookie to every response).
const common = { secret, resave: false, saveUninitialized: false, rolling: false, name: "sid" };

async function middleware(): Promise<RequestHandler> {
  switch (store) {
    case "redis-ha-session":
      // Writes are confirmed by both replicas (WAIT 2) before the response.
      return redisSession({ ...common, redis, durability: { replicas: 2 } });
    case "redis-ha-session-fsync":
      // The fsync tier: acknowledged once the master's and both replicas' AOF have the write on
      // disk (WAITAOF; `npm run bench -- --server valkey`, Redis 7.0 has none).
      return redisSession({ ...common, redis, durability: { replicas: 2, fsync: true } });
    case "redis-ha-session-cluster":
      // On a Cluster (BENCH_REDIS is `{ cluster }`), writes confirmed by each shard's replica.
      return redisSession({
        ...common,
        redis,
        durability: { replicas: 1 },
      });
    case "redis-ha-session-replica":
      // The same, reading from caught-up replicas (`npm run bench -- --read-from replica`).
      return redisSession({
        ...common,
        redis,
        durability: { replicas: 2 },
        readFrom: "replica",
      });
    case "baseline": {
      // The same settings on another commit's build: what a change did to this library's speed.
      const dist = pathToFileURL(join(process.env.BENCH_BASELINE ?? "", "dist", "index.js")).href;
      const baseline = (await import(dist)) as { redisSession: typeof redisSession };
      return baseline.redisSession({ ...common, redis, durability: { replicas: 2 } });
    }
    case "connect-redis": {
      const client = createSentinel({
        name: redis.name,
        sentinelRootNodes: redis.sentinels,
      });
      client.on("error", () => undefined);
      await client.connect();
      return session({
        ...common,
        store: new RedisStore({ client: client as never }),
      });
    }
    case "connect-redis-7": {
      const client = new Redis({ sentinels: redis.sentinels, name: redis.name });
      client.on("error", () => undefined);
      return session({ ...common, store: new RedisStore7({ client }) });
    }
    case "memory":
      return session(common);
    default:
      throw new Error(`unknown BENCH_STORE ${store}`);
  }
}

declare module "express-session" {
  interface SessionData {
    n?: number;
  }
}

/** Sessions the memory measurement writes: a typical one, and one of 12 keys, about 2 KB. */
function seeded(shape: string, i: number): Record<string, unknown> {
  const cookie = new session.Cookie();
  cookie.maxAge = 86_400_000;
  cookie.httpOnly = true;
  cookie.sameSite = "lax";
  cookie.secure = false;
  if (shape === "typical") {
    return {
      cookie,
      user: { id: `user-${i}`, name: "Ann" },
      cart: ["sku-1001", "sku-1002", "sku-1003"],
    };
  }
  const data: Record<string, unknown> = { cookie };
  for (let k = 0; k < 12; k++) data[`field${k}`] = `${"x".repeat(160)}${i}`;
  return data;
}

const app = express();
app.use(await middleware());
// Writes `count` sessions of `shape` through the store itself (for the bytes-per-session figure).
app.post("/seed", express.json(), async (req, res) => {
  const { count, shape } = req.body as { count: number; shape: string };
  const target = req.sessionStore;
  for (let i = 0; i < count; i += 100) {
    await Promise.all(
      Array.from(
        { length: Math.min(100, count - i) },
        (_, j) =>
          new Promise<void>((resolve, reject) => {
            const data = seeded(shape, i + j) as unknown as session.SessionData;
            target.set(`seed-${shape}-${String(i + j).padStart(8, "0")}`, data, (error) => {
              if (error) reject(error instanceof Error ? error : new Error(String(error)));
              else resolve();
            });
          }),
      ),
    );
  }
  res.json({ written: count });
});
let visitors = 0;
app.post("/login", (req, res) => {
  req.session.user = `user-${++visitors}`;
  res.json({ ok: true });
});
app.get("/me", (req, res) => {
  if (req.session.user === undefined) res.status(401).end();
  else res.json({ user: req.session.user });
});
app.post("/change", (req, res) => {
  req.session.n = (req.session.n ?? 0) + 1;
  res.json({ n: req.session.n });
});
const server = app.listen(0, "127.0.0.1", () => {
  const address = server.address();
  if (typeof address === "object" && address !== null) {
    process.stdout.write(`${JSON.stringify({ listening: address.port })}\n`);
  }
});
process.on("SIGTERM", () => process.exit(0));
