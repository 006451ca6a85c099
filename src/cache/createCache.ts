import type { CacheOptions } from "./options.js";
import { RedisCache } from "./RedisCache.js";

/**
 * A DB cache on the failover-tuned Redis layer (shareable with a session store through
 * `createRedisClient`).
 *
 * @example
 * const cache = createCache({ redis: { sentinels, name: "mymaster" } });
 * app.get("/products/:id", async (req, res) => {
 *   res.json(await cache.getOrLoad(`product:${req.params.id}`, () => db.product(req.params.id)));
 * });
 * @throws TypeError naming a bad option
 */
export function createCache(options: CacheOptions): RedisCache {
  return new RedisCache(options);
}
