import type { Redis } from "ioredis";
import type { CorkedCommands } from "../connection/CorkedCommands.js";

/**
 * Where `readFrom: "replica"` sends reads: the replicas of the one master on Sentinel
 * (ReplicaReads), those of the master owning a key's slot on a Cluster (ClusterReplicaReads).
 */
export interface ReplicaRouter {
  /**
   * The commands of a replica that may serve a read of `key` by a reader whose last acknowledged
   * write had the causal token `token`, if one may; undefined: read on the master.
   */
  pick(token: number, key: string): CorkedCommands | undefined;
  /**
   * Runs a deletion of `key` on a connection to its master, then makes sure no replica can serve
   * what it deleted (see ReplicaReads.confirmedByAll).
   */
  confirmedByAll<T>(run: (master: Redis) => Promise<T>, key: string): Promise<T>;
  close(): void;
}
