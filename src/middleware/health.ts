import { performance } from "node:perf_hooks";
import type { RequestHandler } from "express";
import type { Redis } from "ioredis";
import { withinDeadline } from "../store/deadline.js";
import type { RedisSessionStore } from "../store/RedisSessionStore.js";

/** What {@link healthCheck} reports. */
export interface HealthReport {
  /**
   * `ok`; `degraded` when the master has fewer connected replicas than `durability.replicas`
   * (writes would answer 503); `unavailable` when Redis does not answer.
   */
  status: "ok" | "degraded" | "unavailable";
  topology: "single" | "sentinel" | "cluster" | "client";
  /** Role of the node the store talks to (`master` expected); null for a Cluster or no answer. */
  role: string | null;
  /** `host:port` of that node, when known. */
  master: string | null;
  /** Replicas connected to it; null for a Cluster or no answer. */
  replicas: number | null;
  /** Replicas a write must reach (`durability.replicas`). */
  requiredReplicas: number;
  /** When the client last followed a master change (ISO 8601), or null. */
  lastFailoverAt: string | null;
  /** Round trip of the check, in ms; null when Redis did not answer. */
  latencyMs: number | null;
  /** Why it is unavailable. */
  error?: string;
}

/**
 * Asks Redis how the store's connection is doing: role, replicas, latency, last failover.
 *
 * @example
 * const report = await healthCheck(sessions.store);
 * if (report.status !== "ok") logger.warn(report, "session store degraded");
 */
export async function healthCheck(
  store: RedisSessionStore,
  { timeoutMs = 2_000 }: { timeoutMs?: number } = {},
): Promise<HealthReport> {
  const { master, lastFailoverAt } = store.connection;
  const requiredReplicas = store.settings.durability.replicas;
  const base = {
    topology: store.settings.topology.kind,
    master: master ?? null,
    requiredReplicas,
    lastFailoverAt: lastFailoverAt?.toISOString() ?? null,
  };
  const started = performance.now();
  try {
    const info = await withinDeadline("health check", timeoutMs, () =>
      store.client.isCluster
        ? store.client.ping().then(() => undefined)
        : (store.client as Redis).info("replication"),
    );
    const latencyMs = Math.round((performance.now() - started) * 10) / 10;
    const role = info === undefined ? null : (/^role:(\w+)/m.exec(info)?.[1] ?? null);
    const replicas =
      info === undefined ? null : Number(/^connected_slaves:(\d+)/m.exec(info)?.[1] ?? 0);
    const healthy =
      (role === null || role === "master") && (replicas ?? Infinity) >= requiredReplicas;
    return { ...base, status: healthy ? "ok" : "degraded", role, replicas, latencyMs };
  } catch (error) {
    return {
      ...base,
      status: "unavailable",
      role: null,
      replicas: null,
      latencyMs: null,
      error: error instanceof Error ? error.message : String(error),
    };
  }
}

/**
 * An Express handler answering the {@link healthCheck} report as JSON: 200 when `ok` or
 * `degraded` (this instance can serve), 503 when Redis does not answer.
 *
 * @example
 * app.get("/healthz", healthHandler(sessions.store));
 */
export function healthHandler(
  store: RedisSessionStore,
  options?: { timeoutMs?: number },
): RequestHandler {
  return function healthHandlerMiddleware(_req, res, next) {
    healthCheck(store, options).then((report) => {
      res.status(report.status === "unavailable" ? 503 : 200).json(report);
    }, next);
  };
}
