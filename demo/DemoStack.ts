import { randomBytes } from "node:crypto";
import pg from "pg";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../harness/ports.js";
import { HAProxy } from "../harness/HAProxy.js";
import { PostgresServer } from "../harness/PostgresServer.js";
import { ClusterStack } from "../harness/ClusterStack.js";
import { redisInfo } from "../harness/redisCommand.js";
import type { RedisServer } from "../harness/RedisServer.js";
import { SentinelStack } from "../harness/stacks.js";
import type { ServerKind } from "../harness/serverKind.js";
import { AppInstance } from "./AppInstance.js";

export interface DemoStackOptions {
  instances: number;
  /** A 3-shard Redis Cluster (a master and two replicas each) instead of Sentinel. */
  cluster?: boolean | undefined;
  /** Which server runs Redis: Redis 7.0 (default) or Valkey 8 (`--server valkey`). */
  kind?: ServerKind | undefined;
  /** Seconds a product stays fresh in the cache (the app's default when undefined). */
  cacheTtl?: number | undefined;
  /** The load balancer's port; a free one when undefined. */
  port?: number | undefined;
  /** Progress, one line per step. */
  progress: (line: string) => void;
  /** A process died that nobody asked to stop. */
  onUnexpectedExit: (what: string) => void;
}

const PRODUCTS_SQL = new URL("./products.sql", import.meta.url);

/**
 * The demo's processes: Redis master + 2 replicas (AOF) + 3 Sentinels, or a 3-shard Cluster of a
 * master and 2 replicas each, PostgreSQL with the products table, N app instances, HAProxy.
 * Everything on 127.0.0.1, in temp dirs, stopped and removed by stop().
 */
export class DemoStack {
  topology: SentinelStack | ClusterStack | undefined;
  /** Commands per second each Redis node processed over the last second, by port. */
  readonly commandRates = new Map<number, number>();
  database: PostgresServer | undefined;
  #databaseStarting: Promise<PostgresServer> | undefined;
  #databaseSampler: { pool: pg.Pool; timer: NodeJS.Timeout } | undefined;
  /** Queries the products database ran per second over the last second (null: not known now). */
  databaseQueriesPerSecond: number | null = null;
  #sampler: NodeJS.Timeout | undefined;
  readonly instances: AppInstance[] = [];
  haproxy: HAProxy | undefined;
  port = 0;
  #dir: string | undefined;

  constructor(private readonly options: DemoStackOptions) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const { progress } = this.options;
    this.#dir = await mkdtemp(join(tmpdir(), "rhs-demo-"));
    progress("starting PostgreSQL with a seeded products table (1 000 rows)");
    const database = PostgresServer.start(await readFile(PRODUCTS_SQL, "utf8")).then(
      (server) => (this.database = server),
    );
    this.#databaseStarting = database;
    // Should Redis fail to start, stop() still stops the database.
    database.catch(() => undefined);
    const kind = this.options.kind ?? "redis";
    const name = kind === "valkey" ? "Valkey" : "Redis";
    if (this.options.cluster) {
      progress(
        `starting a ${name} Cluster: 3 masters × 2 replicas (AOF, cluster-node-timeout 2 s)`,
      );
      this.topology = await ClusterStack.start({ masters: 3, replicasPerMaster: 2, kind });
    } else {
      progress(
        `starting ${name}: master + 2 replicas (AOF), 3 Sentinels (quorum 2, down after 2 s)`,
      );
      this.topology = await SentinelStack.start({ kind });
    }
    const { url: databaseUrl } = await database;
    this.#sampleCommandRates(this.topology.nodes);
    this.#sampleDatabaseQueries(databaseUrl);

    progress(`starting ${this.options.instances} app instances`);
    const env = {
      SESSION_SECRET: randomBytes(32).toString("base64url"),
      DEMO_REDIS: JSON.stringify(this.topology.redisOption),
      DEMO_DATABASE_URL: databaseUrl,
      ...(this.options.cacheTtl === undefined
        ? {}
        : { DEMO_CACHE_TTL: String(this.options.cacheTtl) }),
    };
    for (let i = 1; i <= this.options.instances; i++) {
      this.instances.push(
        new AppInstance(`app-${i}`, await freePort(), env, (instance, code) => {
          this.options.onUnexpectedExit(
            `${instance.id} exited unexpectedly (code ${String(code)})`,
          );
        }),
      );
    }
    await Promise.all(this.instances.map((instance) => instance.start()));

    progress("starting HAProxy");
    this.port = this.options.port ?? (await freePort());
    const haproxy = await HAProxy.start(this.#dir, {
      port: this.port,
      instances: this.instances.map(({ id, port }) => ({ id, port })),
    });
    this.haproxy = haproxy;
    haproxy.process.onExit = () => {
      this.options.onUnexpectedExit(`haproxy exited unexpectedly: ${haproxy.process.stderr}`);
    };
  }

  /** Stops every process (awaited) and removes the temp dirs. */
  async stop(): Promise<void> {
    clearInterval(this.#sampler);
    if (this.haproxy) this.haproxy.process.onExit = undefined;
    await this.haproxy?.stop();
    await Promise.all(this.instances.map((instance) => instance.stop()));
    clearInterval(this.#databaseSampler?.timer);
    await this.#databaseSampler?.pool.end();
    await Promise.all([
      this.topology?.stop(),
      this.#databaseStarting?.then(
        (server) => server.stop(),
        () => undefined,
      ),
    ]);
    if (this.#dir !== undefined) await rm(this.#dir, { recursive: true, force: true });
  }

  /** Every second, how many commands each running node processed (INFO stats). */
  #sampleCommandRates(nodes: RedisServer[]): void {
    const last = new Map<number, { total: number; at: number }>();
    this.#sampler = setInterval(() => {
      for (const node of nodes) {
        if (!node.process.running || node.process.paused) {
          this.commandRates.delete(node.port);
          continue;
        }
        void redisInfo(node.port, "stats").then(
          (stats) => {
            const total = Number(stats.get("total_commands_processed"));
            const at = Date.now();
            const before = last.get(node.port);
            last.set(node.port, { total, at });
            if (before !== undefined && at > before.at) {
              this.commandRates.set(
                node.port,
                Math.round(((total - before.total) * 1000) / (at - before.at)),
              );
            }
          },
          () => this.commandRates.delete(node.port),
        );
      }
    }, 1_000);
    this.#sampler.unref();
  }

  /**
   * Every second, how many queries the products database ran (pg_stat_statements counts each
   * when it ends, whoever sent it; this sampler's own queries are left out).
   */
  #sampleDatabaseQueries(url: string): void {
    const pool = new pg.Pool({ connectionString: url, max: 1, connectionTimeoutMillis: 1_000 });
    pool.on("error", () => undefined);
    let last: { calls: number; at: number } | undefined;
    const timer = setInterval(() => {
      pool
        .query<{ calls: string | null }>(
          `SELECT sum(calls) AS calls FROM pg_stat_statements
           WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
             AND query NOT LIKE '%pg_stat_statements%'`,
        )
        .then(
          ({ rows }) => {
            const calls = Number(rows[0]?.calls ?? 0);
            const at = Date.now();
            const rate = last && at > last.at ? ((calls - last.calls) * 1000) / (at - last.at) : -1;
            // Negative when the extension dropped entries it had counted: not known then.
            this.databaseQueriesPerSecond = rate >= 0 ? Math.round(rate) : null;
            last = { calls, at };
          },
          () => (this.databaseQueriesPerSecond = null),
        );
    }, 1_000);
    timer.unref();
    this.#databaseSampler = { pool, timer };
  }

  /** What runs where, as the `--json` line and the control panel show it. */
  async describe(): Promise<DemoDescription> {
    const topology = this.topology;
    if (topology === undefined) throw new Error("the stack is not started");
    const node = (server: RedisServer) => ({
      name: server.name,
      port: server.port,
      pid: server.process.running ? server.process.pid : null,
      commandsPerSecond: this.commandRates.get(server.port) ?? null,
    });
    const instances = this.instances.map(({ id, port, pid }) => ({ id, port, pid: pid ?? null }));
    const loadBalancer = {
      port: this.port,
      pid: this.haproxy?.process.running ? this.haproxy.process.pid : null,
    };
    const { database: db } = this;
    const database = {
      port: db?.port ?? 0,
      pid: db?.process.running ? db.process.pid : null,
      queriesPerSecond: this.databaseQueriesPerSecond,
    };
    if (topology instanceof ClusterStack) {
      const shards = (await topology.shards().catch(() => [])).sort(
        (a, b) => parseInt(a.slots, 10) - parseInt(b.slots, 10),
      );
      const masters = new Set(shards.map((shard) => shard.master));
      return {
        redis: {
          master: null,
          replicas: topology.servers.filter((server) => !masters.has(server)).map(node),
          sentinels: [],
          shards: shards.map((shard) => ({
            slots: shard.slots,
            master: node(shard.master),
            replicas: shard.replicas.map(node),
          })),
        },
        database,
        instances,
        loadBalancer,
      };
    }
    const master = await topology.currentMaster().catch(() => undefined);
    return {
      redis: {
        master: master ? node(master) : null,
        replicas: topology.servers.filter((server) => server !== master).map(node),
        sentinels: topology.sentinels.map(node),
      },
      database,
      instances,
      loadBalancer,
    };
  }
}

interface NodeDescription {
  name: string;
  port: number;
  pid: number | null;
  /** Commands it processed per second over the last second (Redis nodes). */
  commandsPerSecond?: number | null;
}

export interface DemoDescription {
  redis: {
    /** Sentinel's master; null on a Cluster. */
    master: NodeDescription | null;
    /** Every Redis node that is not a master now (down ones included). */
    replicas: NodeDescription[];
    sentinels: NodeDescription[];
    /** On a Cluster: each shard, by its slots. */
    shards?: { slots: string; master: NodeDescription; replicas: NodeDescription[] }[];
  };
  /** PostgreSQL, with the queries it ran per second over the last second. */
  database: { port: number; pid: number | null; queriesPerSecond: number | null };
  instances: { id: string; port: number; pid: number | null }[];
  loadBalancer: { port: number; pid: number | null };
}
