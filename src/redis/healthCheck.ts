import type { RequestHandler } from "express";
import type { ShardHealth } from "./backend/Backend.js";
import type { Keyspace } from "./Keyspace.js";

/** What {@link healthCheck} takes: a session store or a cache. */
export interface HealthCheckable {
  /** @internal The face of the Redis layer it goes through. */
  readonly keyspace: Keyspace;
  /** A cache's: whether changes made elsewhere reach it now. */
  readonly subscribed?: boolean;
}

/** What {@link healthCheck} reports. */
export interface HealthReport {
  /**
   * `ok`; `degraded` when the master has fewer replicas in sync than `durability.replicas`, or
   * writes are acknowledged with fewer copies than that (`degradedMasters`); `unavailable` when
   * Redis does not answer.
   */
  status: "ok" | "degraded" | "unavailable";
  topology: "single" | "sentinel" | "cluster" | "client";
  /** Role of the node the store talks to (`master` expected); null for a Cluster or no answer. */
  role: string | null;
  /** `host:port` of that node, when known. */
  master: string | null;
  /**
   * Replicas connected to it and in sync (acknowledged the replication stream within the last
   * 2 s: a replica cut off by a partition stays "connected" for `repl-timeout`, 60 s); on a
   * Cluster the fewest replicas a shard has (see `shards`); null for no answer.
   */
  replicas: number | null;
  /**
   * Replicas a write must reach (`durability.replicas`; for "all" the count Sentinel lists, null
   * until a Sentinel has answered).
   */
  requiredReplicas: number | null;
  /**
   * Masters (`host:port`) whose writes are degraded now: fewer replicas can take them than
   * `durability.replicas`, so they are acknowledged with the copies there are
   * (`durability.whenFewer`).
   */
  degradedMasters: string[];
  /** When the client last followed a master change (ISO 8601), or null. */
  lastFailoverAt: string | null;
  /** Round trip of the check, in ms; null when Redis did not answer. */
  latencyMs: number | null;
  /**
   * Why it is unavailable: what bounded the check, and the cause Redis or the network gave
   * (ECONNREFUSED, WRONGPASS, a database that does not exist…).
   */
  error?: string;
  /**
   * On a Cluster: each shard's master and the replicas the slot map lists for it; `replicas` is
   * then the fewest any shard has, and `status` is `degraded` when that is below
   * `requiredReplicas` (that shard's writes would answer 503).
   */
  shards?: ShardHealth[];
  /**
   * For a cache: whether changes made elsewhere reach it now (subscribed to its channel; with a
   * local tier, its pings coming back). The local tier is used only while true.
   */
  subscribed?: boolean;
}

/**
 * Asks Redis how the connection of a session store or a cache is doing: role, replicas, latency,
 * last failover (and for a cache, whether it hears of changes elsewhere).
 *
 * @example
 * const report = await healthCheck(sessions.store);
 * if (report.status !== "ok") logger.warn(report, "session store degraded");
 */
export async function healthCheck(
  store: HealthCheckable,
  { timeoutMs = 2_000 }: { timeoutMs?: number } = {},
): Promise<HealthReport> {
  const facts = await store.keyspace.health(timeoutMs);
  const requiredReplicas = facts.requiredReplicas ?? null;
  const base = {
    topology: facts.topology,
    master: facts.master ?? null,
    requiredReplicas,
    degradedMasters: facts.degraded,
    lastFailoverAt: facts.lastFailoverAt?.toISOString() ?? null,
  };
  if (!facts.answered) {
    return {
      ...base,
      status: "unavailable",
      role: null,
      replicas: null,
      latencyMs: null,
      error: facts.error,
    };
  }
  const { role, replicas, shards, latencyMs } = facts;
  const healthy =
    (role === null || role === "master") &&
    (replicas ?? Infinity) >= (requiredReplicas ?? Infinity) &&
    facts.degraded.length === 0;
  return {
    ...base,
    status: healthy ? "ok" : "degraded",
    role,
    replicas,
    latencyMs,
    ...(shards === undefined ? {} : { shards }),
    ...(store.subscribed === undefined ? {} : { subscribed: store.subscribed }),
  };
}

/**
 * An Express handler answering the {@link healthCheck} report as JSON: 200 when `ok` or
 * `degraded` (this instance can serve), 503 when Redis does not answer.
 *
 * @example
 * app.get("/healthz", healthHandler(sessions.store));
 */
export function healthHandler(
  store: HealthCheckable,
  options?: { timeoutMs?: number },
): RequestHandler {
  return function healthHandlerMiddleware(_req, res, next) {
    healthCheck(store, options).then((report) => {
      res.status(report.status === "unavailable" ? 503 : 200).json(report);
    }, next);
  };
}
