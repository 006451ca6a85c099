import { afterAll } from "vitest";
import { createCache } from "../../src/index.js";
import type { CacheOptions, RedisCache, RedisTopology } from "../../src/index.js";
import { useCluster, useSingleNode } from "./hooks.js";

/** The topologies a cache test runs on, for `describe.each(CACHE_TOPOLOGIES)`. */
export const CACHE_TOPOLOGIES = ["a single node", "a Cluster"] as const;

/**
 * A single node, or a 3-shard Cluster (a master and a replica each), for the enclosing block;
 * `instances(count)` makes `count` caches on one new prefix (instances of one app), closed after
 * the block.
 */
export function useCacheTopology(topology: (typeof CACHE_TOPOLOGIES)[number]): {
  redisOption: () => RedisTopology;
  instances: (count: number, options?: Partial<CacheOptions>) => RedisCache[];
} {
  const single = topology === "a single node" ? useSingleNode() : undefined;
  const cluster =
    single === undefined ? useCluster({ masters: 3, replicasPerMaster: 1 }) : undefined;
  const caches: RedisCache[] = [];
  let prefixes = 0;
  afterAll(async () => {
    await Promise.all(caches.map((cache) => cache.close()));
  });
  const redisOption = (): RedisTopology =>
    single?.current.url ?? cluster?.current.redisOption ?? "";
  return {
    redisOption,
    instances: (count, options = {}) => {
      const prefix = `t${++prefixes}:`;
      return Array.from({ length: count }, () => {
        const cache = createCache({ redis: redisOption(), prefix, ...options });
        caches.push(cache);
        return cache;
      });
    },
  };
}
