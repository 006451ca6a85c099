import type { Cluster, ClusterNode, ClusterOptions, Redis, RedisOptions } from "ioredis";

/** A topology after validation: what createRedisClient builds from. */
export type ParsedTopology =
  | { kind: "client"; client: Redis | Cluster }
  | { kind: "single"; options: RedisOptions }
  | { kind: "sentinel"; options: RedisOptions }
  | { kind: "cluster"; nodes: ClusterNode[]; options: ClusterOptions };

/** Whether a topology is a Cluster (given as nodes, or as a Cluster client passed in). */
export function isClusterTopology(topology: ParsedTopology): boolean {
  return topology.kind === "cluster" || (topology.kind === "client" && topology.client.isCluster);
}
