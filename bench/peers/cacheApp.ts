// One app process of `npm run bench -- --cache`: `GET /products/:id` through one DB-cache library
// (BENCH_CACHE) on the Redis at BENCH_REDIS_PORT, in front of an in-memory "database" of 1 000
// products (a read takes 1 ms). In bench/peers/ so that the peers' imports resolve to their own
// tree (Bentocache needs ioredis 5); this library comes from ../../dist. Prints its port.
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import express from "express";

const kind = process.env.BENCH_CACHE ?? "";
const port = Number(process.env.BENCH_REDIS_PORT);
const url = `redis://127.0.0.1:${port}`;

const products = new Map(
  Array.from({ length: 1_000 }, (_, id) => [
    id,
    { id, name: `product ${id}`, price: 1 + id / 100, tags: ["tea", "loose leaf"] },
  ]),
);
let databaseReads = 0;
async function readProduct(id: number) {
  databaseReads++;
  await delay(1);
  return products.get(id) ?? null;
}

type GetOrLoad = (key: string, loader: () => Promise<unknown>) => Promise<unknown>;

async function library(): Promise<GetOrLoad> {
  switch (kind) {
    case "redis-ha-session":
    case "redis-ha-session-local":
    case "baseline": {
      // Built (dist/), as the session bench loads this library; "baseline": another commit's
      // build of it (BENCH_BASELINE, a checkout), for `--cache --baseline`.
      const dist =
        kind === "baseline"
          ? pathToFileURL(join(process.env.BENCH_BASELINE ?? "", "dist", "index.js")).href
          : "../../dist/index.js";
      const { createCache } = (await import(dist)) as typeof import("../../dist/index.js");
      const cache = createCache({
        redis: url,
        ...(kind === "redis-ha-session-local" ? { local: { maxEntries: 10_000 } } : {}),
      });
      return (key, loader) => cache.getOrLoad(key, loader);
    }
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
      return (key, loader) => bento.getOrSet({ key, factory: loader, ttl: "5m" });
    }
    case "cache-manager": {
      const { createCache } = await import("cache-manager");
      const { Keyv } = await import("keyv");
      const { default: KeyvRedis } = await import("@keyv/redis");
      const cache = createCache({ stores: [new Keyv({ store: new KeyvRedis(url) })] });
      return (key, loader) => cache.wrap(key, loader, 300_000);
    }
    case "no-cache":
      // The ceiling of this route: the product straight from the Map, no cache, no database delay.
      return (key) => Promise.resolve(products.get(Number(key.slice("product:".length))) ?? null);
    default:
      throw new Error(`unknown BENCH_CACHE ${kind}`);
  }
}

const getOrLoad = await library();
const app = express();
app.get("/products/:id", async (req, res) => {
  const id = Number(req.params.id);
  res.json(await getOrLoad(`product:${id}`, () => readProduct(id)));
});
// The cache alone, without HTTP: `calls` getOrLoad hits of random cached products, `concurrency`
// at a time, in this process; its CPU time per call (process.cpuUsage) and calls per second.
app.get("/hit-loop", async (req, res) => {
  const calls = Number(req.query.calls ?? 100_000);
  const concurrency = Number(req.query.concurrency ?? 20);
  const reads = databaseReads;
  const cpu = process.cpuUsage();
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < calls) {
        const id = Math.floor(Math.random() * products.size);
        await getOrLoad(`product:${id}`, () => readProduct(id));
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  res.json({
    callsPerSecond: calls / seconds,
    cpuMicrosPerCall: (used.user + used.system) / calls,
    databaseReads: databaseReads - reads,
  });
});
app.get("/database", (_req, res) => {
  res.json({ reads: databaseReads });
});
const server = app.listen(0, "127.0.0.1", () => {
  const address = server.address();
  if (typeof address === "object" && address !== null) {
    process.stdout.write(`${JSON.stringify({ listening: address.port })}\n`);
  }
});
// Exits on a signal as on a normal end (so that --cpu-prof writes its profile).
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => process.exit(0));
