import type { Cluster, ClusterNode, ClusterOptions, Redis, RedisOptions } from "ioredis";

/** A topology after validation: what createRedisClient builds from. */
export type ParsedTopology =
  | { kind: "client"; client: Redis | Cluster }
  | { kind: "single"; options: RedisOptions }
  | { kind: "sentinel"; options: RedisOptions }
  | { kind: "cluster"; nodes: ClusterNode[]; options: ClusterOptions };
