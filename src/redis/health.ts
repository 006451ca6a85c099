import { performance } from "node:perf_hooks";
import type { Backend, ShardHealth } from "./backend/Backend.js";
import { withinDeadline } from "./connection/deadline.js";
import type { ConnectionState } from "./connection/deadline.js";
import type { ConnectionMonitor } from "./connection/ConnectionMonitor.js";
import { replicaLines } from "./replicaLines.js";

/** What the master says of itself and its replicas, as {@link replicationHealth} reads it. */
export type ReplicationHealth =
  | {
      answered: true;
      /** Role of the node (`master` expected); null for a Cluster. */
      role: string | null;
      /**
       * Replicas connected and in sync; on a Cluster the fewest the slot map lists for a shard
       * (null when it lists no shard).
       */
      replicas: number | null;
      /** On a Cluster: each shard's master and its replicas, as the slot map has them. */
      shards: ShardHealth[] | undefined;
      /** Round trip, ms. */
      latencyMs: number;
    }
  | { answered: false; error: string };

/** What a keyspace knows of its connection's health (see Keyspace.health). */
export type HealthFacts = ReplicationHealth & {
  /** The master the client follows (`host:port`), when known. */
  master: string | undefined;
  lastFailoverAt: Date | undefined;
  topology: "single" | "sentinel" | "cluster" | "client";
  /** Replicas a write must reach (undefined for "all" until a Sentinel has answered). */
  requiredReplicas: number | undefined;
  /** Masters whose writes are degraded now (see StoreStats.degraded). */
  degraded: string[];
};

/** A replica whose last acknowledgement is older than this is not counted as in sync. */
const IN_SYNC_LAG_S = 2;

/**
 * Asks the topology's master, within `timeoutMs`, for its role and the replicas in sync with it
 * (acknowledged the replication stream within the last 2 s: a replica cut off by a partition
 * stays "connected" for `repl-timeout`, 60 s). Any user of a connection set can report from it.
 */
export async function replicationHealth(
  backend: Backend,
  timeoutMs: number,
  connection?: ConnectionState & Pick<ConnectionMonitor, "handshaken">,
): Promise<ReplicationHealth> {
  const started = performance.now();
  try {
    const context = { setBy: "the health check's `timeoutMs`", connection };
    // Asked only once the handshake is done: an INFO sent during it can be answered as the
    // default user after the connection's own AUTH failed (see ConnectionMonitor.handshaken).
    const info = await withinDeadline("health check", timeoutMs, context, async (deadline) => {
      await connection?.handshaken(deadline);
      return backend.replicationInfo();
    });
    const latencyMs = Math.round((performance.now() - started) * 10) / 10;
    const role = info === undefined ? null : (/^role:(\w+)/m.exec(info)?.[1] ?? null);
    const shards = backend.shards();
    const replicas =
      shards !== undefined
        ? shards.reduce<number | null>(
            (fewest, shard) => Math.min(fewest ?? Infinity, shard.replicas),
            null,
          )
        : info === undefined
          ? null
          : replicasInSync(info);
    return { answered: true, role, replicas, shards, latencyMs };
  } catch (error) {
    return { answered: false, error: error instanceof Error ? error.message : String(error) };
  }
}

/** `slave0:ip=…,port=…,state=online,offset=…,lag=0` lines of INFO replication, in sync. */
function replicasInSync(info: string): number {
  let count = 0;
  for (const fields of replicaLines(info)) {
    if (fields.get("state") === "online" && Number(fields.get("lag")) <= IN_SYNC_LAG_S) count++;
  }
  return count;
}
