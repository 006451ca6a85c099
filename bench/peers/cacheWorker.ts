// One cache process of `npm run bench -- --cache`'s fleet figures (stampede, stale sets), with a
// peer library (BENCH_CACHE: bentocache, bentocache-two-tier, cache-manager) on the Redis node at
// BENCH_REDIS_PORT, served by the same worker protocol as this library's fleet tests
// (harness/cache/workerServer.ts). Each peer's write-through is what its docs show: the database
// write, then the library's `set`; an invalidation is its `delete`. In bench/peers/ so that the
// peers' imports resolve to their own tree (Bentocache needs ioredis 5).
import { serveCacheWorker } from "../../harness/cache/workerServer.js";
import type { CacheUnderTest } from "../../harness/cache/workerServer.js";

const kind = process.env.BENCH_CACHE ?? "";
const port = Number(process.env.BENCH_REDIS_PORT);
const TTL_MS = 300_000;

async function peer(): Promise<CacheUnderTest> {
  switch (kind) {
    case "bentocache":
    case "bentocache-two-tier": {
      const { BentoCache, bentostore } = await import("bentocache");
      const { redisDriver, redisBusDriver } = await import("bentocache/drivers/redis");
      const { memoryDriver } = await import("bentocache/drivers/memory");
      const connection = { host: "127.0.0.1", port };
      let store = bentostore();
      if (kind === "bentocache-two-tier") {
        store = store
          .useL1Layer(memoryDriver({ maxItems: 10_000 }))
          .useBus(redisBusDriver({ connection }));
      }
      store = store.useL2Layer(redisDriver({ connection }));
      const bento = new BentoCache({ default: "cache", stores: { cache: store } });
      return {
        getOrLoad: (key, loader) => bento.getOrSet({ key, factory: loader, ttl: TTL_MS }),
        writeThrough: async (key, writer) => {
          const value = await writer();
          await bento.set({ key, value, ttl: TTL_MS });
          return value;
        },
        invalidate: (key) => bento.delete({ key }),
        get: (key) => bento.get({ key }),
        stats: () => ({}),
        close: () => bento.disconnectAll(),
      };
    }
    case "cache-manager": {
      const { createCache } = await import("cache-manager");
      const { Keyv } = await import("keyv");
      const { default: KeyvRedis } = await import("@keyv/redis");
      const cache = createCache({
        stores: [new Keyv({ store: new KeyvRedis(`redis://127.0.0.1:${port}`) })],
      });
      return {
        getOrLoad: (key, loader) => cache.wrap(key, loader, TTL_MS),
        writeThrough: async (key, writer) => {
          const value = await writer();
          await cache.set(key, value, TTL_MS);
          return value;
        },
        invalidate: (key) => cache.del(key),
        get: (key) => cache.get(key),
        stats: () => ({}),
        close: () => cache.disconnect(),
      };
    }
    default:
      throw new Error(`unknown BENCH_CACHE ${kind}`);
  }
}

serveCacheWorker(await peer(), {
  instance: process.env.CACHE_INSTANCE ?? kind,
  database: process.env.CACHE_DATABASE ?? "",
});
