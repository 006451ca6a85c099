import type { Cluster, Redis } from "ioredis";
import type { CommandArgs } from "../connection/CorkedCommands.js";
import type { LaneRouter } from "../writes/LaneRouter.js";
import type { ReplicaRouter } from "../replicas/ReplicaRouter.js";
import type { Script } from "../scripts.js";
import type { SentinelWatch } from "../sentinel/SentinelWatch.js";
import type { BoundStep } from "./scan.js";

/** One shard of a Cluster, as the health check reports it. */
export interface ShardHealth {
  /** `host:port` of its master. */
  master: string;
  /** Replicas the slot map lists for it. */
  replicas: number;
}

/**
 * What the layers above need from a topology, so they hold no `isCluster` branch: one
 * implementation for a single node or Sentinel (one master at a time), one for a Cluster.
 */
export interface Backend {
  readonly kind: "node" | "cluster";
  readonly client: Redis | Cluster;
  /**
   * Whether a script may touch any key it computes itself (a per-user index beside a session):
   * true where every key lives on one master; false on a Cluster, where it may touch only keys
   * in the slot of the keys passed to it (so the index's key carries the session's hash tag).
   */
  readonly keysTogether: boolean;
  /** The Sentinel watch of a Sentinel topology this library connected to. */
  readonly sentinelWatch: SentinelWatch | undefined;
  /**
   * New writer connections, on which durable writes are confirmed with WAIT: to the master, or on
   * a Cluster to the master owning each write's slot (a keyless WAIT through the Cluster client
   * goes to any master and confirms nothing).
   */
  openLanes(): LaneRouter;
  /**
   * Replica reads (`readFrom: "replica"`): the replicas of the master, or on a Cluster of each
   * slot's master, with the offsets they have applied.
   */
  openReplicaReads(): ReplicaRouter;
  /**
   * A new connection for Pub/Sub subscriptions: to the master, following it as the client does;
   * on a Cluster to one node, not reconnected (open another when it ends).
   */
  openSubscriber(): Redis;
  /** Sends one command on the hot path (corked on a node; routed by key on a Cluster). */
  send(command: string, args: CommandArgs): Promise<unknown>;
  /** Runs a script over `keys`. */
  runScript(
    script: Script,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown>;
  /** Every key matching `pattern`, in batches, over every master; each step within `bound`. */
  scan(pattern: string, bound: BoundStep): AsyncGenerator<string[]>;
  /** The `host:port` of the master the client is connected to, where there is one. */
  masterAddress(): string | undefined;
  /**
   * A Cluster's shards as the client's slot map has them: each master and how many replicas it
   * lists; undefined on a single node or Sentinel.
   */
  shards(): ShardHealth[] | undefined;
  /** INFO replication of the master, or undefined where no single master answers for all. */
  replicationInfo(): Promise<string | undefined>;
}
