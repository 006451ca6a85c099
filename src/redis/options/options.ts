import { UnsupportedTopologyError } from "../../errors/UnsupportedTopologyError.js";
import type { ParsedTopology } from "./topology.js";
import { isClusterTopology } from "./ParsedTopology.js";
import type { Logger } from "../connection/Notices.js";

export type { Logger } from "../connection/Notices.js";
import {
  asRecord,
  boolean,
  describe,
  nonNegativeInteger,
  positiveInteger,
  rejectUnknown,
} from "./validate.js";

/** How sure a write must be before the user is told it succeeded. */
export interface DurabilityOptions {
  /**
   * The fewest replicas a write must reach before it is acknowledged; 0 acknowledges once the
   * master has it (no WAIT). Whatever the number, a write also waits for every other replica
   * that could be promoted in place of its master — the replicas Sentinel lists as healthy and
   * promotable, or the shard's replicas on a Cluster — and never for one that is down or in a
   * full resync. So no failover, planned (`SENTINEL FAILOVER`) or not, promotes a replica without
   * an acknowledged write, and losing a replica does not stall writes.
   *
   * While fewer replicas than this can take writes (a shard's last replica is gone), see
   * `whenFewer`. `"all"` (Sentinel only) also waits for every replica Sentinel lists, reachable
   * or not, and answers 503 while any is missing: for networks that fail again within seconds of
   * healing (an old master that rejoined but is not re-pointed yet could be promoted), at the
   * price of 503s whenever a replica is down.
   * @default 1 on Sentinel and on a Cluster (per shard), 0 otherwise
   */
  replicas?: number | "all" | undefined;
  /**
   * How long one `WAIT` may block; it is repeated until the replicas confirm or
   * `unavailable.waitMs` has passed.
   * @default 100
   */
  timeoutMs?: number | undefined;
  /**
   * While fewer than `replicas` replicas can take writes (the last replica of a master is gone):
   * `"degrade"` acknowledges writes with the copies there are — after the master's own AOF
   * fsync where the server has WAITAOF (Redis 7.2+, Valkey) and `appendonly yes`, else from its
   * memory (Redis 7.0) — and reports it (`degraded`/`restored` events, `stats()`, health,
   * one log line per change); `"refuse"` answers such writes 503 instead, for those who prefer
   * unavailability to a single copy.
   * @default "degrade"
   */
  whenFewer?: "degrade" | "refuse" | undefined;
  /**
   * `true`: a write is acknowledged only once it is in the AOF on disk of its master and of the
   * replicas it waits for (WAITAOF; needs Redis 7.2+ or Valkey with `appendonly yes`, and on
   * Valkey and Redis < 8.0 `appendfsync always`: under `everysec` their WAITAOF counts writes
   * before the fsync, redis/redis#13793), so a crash of every node at once loses nothing
   * acknowledged. Writes the master cannot confirm so are refused (503), said once. Costs a
   * write its fsync (under `everysec` on Redis 8: up to about a second).
   * @default false
   */
  fsync?: boolean | undefined;
  /**
   * Sentinel only. `true`: a session (or a cached value) is read only from the master a Sentinel majority names (as
   * durable writes are acknowledged only there), so an instance cut off with the old master
   * answers 503 instead of sessions that may be stale. It stops within 1.25 s of losing the
   * majority, before a new master can exist on the other side as long as Sentinel's
   * `down-after-milliseconds` is at least that.
   * @default false
   */
  fenceReads?: boolean | undefined;
}

/** What a request does while Redis cannot be reached. */
export interface UnavailableOptions {
  /**
   * How long a store operation may wait for Redis — through a failover, a reconnect, a frozen
   * master — before the request is answered `503`.
   * @default 10000
   */
  waitMs?: number | undefined;
  /**
   * The `Retry-After` of that 503, in seconds.
   * @default 5
   */
  retryAfterSeconds?: number | undefined;
}

export const REDIS_DEFAULTS = {
  durability: {
    sentinelReplicas: 1,
    otherReplicas: 0,
    /**
     * Short, because durable writes share one connection and a WAIT holds it: while a replica is
     * missing, each write queued behind another's WAIT would wait that long again.
     */
    timeoutMs: 100,
  },
  unavailable: {
    waitMs: 10_000,
    retryAfterSeconds: 5,
  },
  client: {
    /** Reconnect and Sentinel retry delays grow by this step… */
    retryStepMs: 100,
    /** …up to this cap, so a new master is found within a second of being elected. */
    retryCapMs: 1_000,
    /** A Sentinel that has not answered within this is passed over for the next one. */
    sentinelTimeoutMs: 1_000,
    /**
     * On Sentinel, a connection (to a Sentinel or a data node) not established within this is
     * given up and the next address tried: a partitioned host drops packets rather than refusing
     * them, and ioredis' 10 s would hold every reconnection up that long.
     */
    sentinelConnectTimeoutMs: 500,
    /** A Cluster client looks at the slot map this often (CLUSTER SLOTS on one node). */
    slotsRefreshMs: 1_000,
    /**
     * A Cluster node connection that hears nothing this long after a command is given up (a
     * frozen master): far above any reply's time, far below the wait bound.
     */
    clusterSocketTimeoutMs: 2_000,
  },
} as const;

/** `durability` after validation. */
export interface NormalizedDurability {
  replicas: number | "all";
  timeoutMs: number;
  fenceReads: boolean;
  whenFewer: "degrade" | "refuse";
  fsync: boolean;
}

/** `unavailable` after validation. */
export interface NormalizedUnavailable {
  waitMs: number;
  retryAfterSeconds: number;
}

/**
 * Validates `durability` for `topology` and fills in its defaults.
 * @throws TypeError naming the option that is wrong.
 */
export function normalizeDurability(
  value: unknown,
  topology: ParsedTopology,
): NormalizedDurability {
  const record = value === undefined ? {} : asRecord(value, "durability");
  rejectUnknown(
    record,
    ["replicas", "timeoutMs", "fenceReads", "whenFewer", "fsync"],
    "durability.",
  );
  const { sentinelReplicas, otherReplicas, timeoutMs } = REDIS_DEFAULTS.durability;
  const fenceReads = boolean(record.fenceReads ?? false, "durability.fenceReads");
  const fsync = boolean(record.fsync ?? false, "durability.fsync");
  const whenFewer = record.whenFewer ?? "degrade";
  if (whenFewer !== "degrade" && whenFewer !== "refuse") {
    throw new TypeError(
      `\`durability.whenFewer\` must be "degrade" or "refuse"; got ${describe(whenFewer)}`,
    );
  }
  if (fenceReads && topology.kind !== "sentinel") {
    throw new UnsupportedTopologyError(
      "`durability.fenceReads` needs a Sentinel topology (`{ sentinels, name }` or a " +
        "redis-sentinel:// URL): it reads only from the master a Sentinel majority names",
    );
  }
  // A Cluster's shards are confirmed each by its own replicas, as a Sentinel master is.
  const replicated = topology.kind === "sentinel" || isClusterTopology(topology);
  const replicas = record.replicas ?? (replicated ? sentinelReplicas : otherReplicas);
  const wait = record.timeoutMs ?? timeoutMs;
  positiveInteger(wait, "durability.timeoutMs", "ms");
  if (replicas === "all") {
    if (topology.kind !== "sentinel") {
      throw new UnsupportedTopologyError(
        '`durability.replicas: "all"` needs a Sentinel topology (`{ sentinels, name }` or a ' +
          "redis-sentinel:// URL): the replicas a master should have are what Sentinel knows of it",
      );
    }
    return { replicas, timeoutMs: wait, fenceReads, whenFewer, fsync };
  }
  if (typeof replicas === "string") {
    throw new TypeError(
      `\`durability.replicas\` must be a whole number of replicas or "all"; got ${describe(replicas)}`,
    );
  }
  nonNegativeInteger(replicas, "durability.replicas", "replicas");
  if (fsync && replicas === 0) {
    throw new TypeError(
      "`durability.fsync` confirms writes with WAITAOF, which `durability.replicas: 0` turns " +
        "off: set `replicas` to 1 or more",
    );
  }
  return { replicas, timeoutMs: wait, fenceReads, whenFewer, fsync };
}

/**
 * Validates `unavailable` and fills in its defaults.
 * @throws TypeError naming the option that is wrong.
 */
export function normalizeUnavailable(value: unknown): NormalizedUnavailable {
  const record = value === undefined ? {} : asRecord(value, "unavailable");
  rejectUnknown(record, ["waitMs", "retryAfterSeconds"], "unavailable.");
  const waitMs = record.waitMs ?? REDIS_DEFAULTS.unavailable.waitMs;
  positiveInteger(waitMs, "unavailable.waitMs", "ms");
  const retryAfterSeconds =
    record.retryAfterSeconds ?? REDIS_DEFAULTS.unavailable.retryAfterSeconds;
  positiveInteger(retryAfterSeconds, "unavailable.retryAfterSeconds", "seconds");
  return { waitMs, retryAfterSeconds };
}

/**
 * Validates `logger`: undefined (notices go to `console.warn`) or anything with a `warn` method.
 * @throws TypeError naming the option.
 */
export function normalizeLogger(value: unknown): Logger | undefined {
  if (value === undefined) return undefined;
  if (
    (typeof value !== "object" && typeof value !== "function") ||
    value === null ||
    typeof (value as { warn?: unknown }).warn !== "function"
  ) {
    throw new TypeError(
      "`logger` must have a `warn(message)` method (console, a pino or winston logger); got " +
        describe(value),
    );
  }
  // Kept as given (Notices calls `logger.warn(…)` on it, as pino's and winston's need), so two
  // users of one connection with the same logger hear each problem once.
  return value as Logger;
}
