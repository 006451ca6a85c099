// One app process with a cache, as an instance of a fleet: `node --import tsx cacheWorker.ts`.
// CACHE_OPTIONS (JSON of createCache options), CACHE_INSTANCE, CACHE_DATABASE (a FakeDatabase's
// URL, which its loaders read). Prints its port. `POST /burst { key, count }` runs `count`
// concurrent getOrLoad of `key` and answers each one's value and time.
import { createServer } from "node:http";
import { createCache } from "../../src/index.js";
import type { CacheOptions } from "../../src/index.js";

const options = JSON.parse(process.env.CACHE_OPTIONS ?? "{}") as CacheOptions;
const instance = process.env.CACHE_INSTANCE ?? "cache";
const database = process.env.CACHE_DATABASE ?? "";
const cache = createCache(options);

async function fromDatabase(key: string): Promise<unknown> {
  const url = `${database}/rows/${encodeURIComponent(key)}?instance=${instance}`;
  const response = await fetch(url);
  if (!response.ok) throw new Error(`database: ${response.status}`);
  return ((await response.json()) as { value: unknown }).value;
}

async function burst(key: string, count: number) {
  const started = Date.now();
  const results = await Promise.all(
    Array.from({ length: count }, async () => {
      try {
        const value = await cache.getOrLoad(key, () => fromDatabase(key));
        return { value, ms: Date.now() - started };
      } catch (error) {
        return { error: (error as Error).message, ms: Date.now() - started };
      }
    }),
  );
  return { results, stats: cache.stats() };
}

const server = createServer((req, res) => {
  let body = "";
  req.on("data", (chunk: Buffer) => (body += chunk.toString()));
  req.on("end", () => {
    const reply = (status: number, value: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(value));
    };
    if (req.url === "/burst") {
      const { key, count } = JSON.parse(body) as { key: string; count: number };
      void burst(key, count).then((value) => reply(200, value));
    } else if (req.url === "/stats") {
      reply(200, cache.stats());
    } else {
      reply(404, {});
    }
  });
});
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  if (typeof address === "object" && address !== null) {
    process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
  }
});
process.on("SIGTERM", () => {
  server.close();
  void cache.close().finally(() => process.exit(0));
});
