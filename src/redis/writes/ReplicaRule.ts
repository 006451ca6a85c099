import type { LanePool } from "./WriterLane.js";

/** A master's writes became degraded (fewer copies than asked) or were restored. */
export interface DurabilityChange {
  /** `host:port` of the master. */
  master: string;
  degraded: boolean;
  /** Replicas its writes wait for now. */
  replicas: number;
  /** `durability.replicas`: the fewest a write should reach. */
  minimum: number;
}

/**
 * Which replicas a durable write waits for: every replica that could be promoted in place of its
 * master, and at least `minimum`.
 */
export interface ReplicaRule {
  /** `durability.replicas` (`"all"`: 1). */
  minimum: number;
  /**
   * While fewer than `minimum` replicas can take writes (a shard's last replica is gone):
   * acknowledge with the copies there are, after the master's own AOF fsync where the server
   * has WAITAOF (`"degrade"`), or refuse (`"refuse"`: 503).
   */
  whenFewer: "degrade" | "refuse";
  /** Acknowledge only once the master's and the replicas' AOF has the write on disk (WAITAOF). */
  fsync: boolean;
  /**
   * The replicas (`host:port`) that could be promoted in place of `pool`'s master, which a
   * write of `key` went to: those Sentinel lists as healthy and promotable, or the shard's
   * replicas in a Cluster's slot map; empty where the topology does not say (a single node: the
   * master's online replicas are waited for). Undefined while that is not known (no Sentinel
   * has answered; the slot map names another master).
   */
  promotable: (key: string, pool: LanePool) => ReadonlySet<string> | undefined;
  /**
   * Sentinel only: the replicas a failover could select in place of the master, synced or not
   * (see SentinelQuorum.selectable). A master with fewer replicas than `minimum` acknowledges
   * degraded writes only while none of these could be promoted without them.
   */
  selectable?: (() => ReadonlySet<string> | undefined) | undefined;
  /** A replica's `ip:port` as its master reports it, in the form `promotable` uses. */
  map: (address: string) => string;
  /** Called when a master's writes become degraded or are restored. */
  report: (change: DurabilityChange) => void;
  /** Says, once per distinct problem, why a master cannot give what the rule asks. */
  misconfigured: (message: string) => void;
}
