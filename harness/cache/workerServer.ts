import { createServer } from "node:http";
import type { BurstResult, WorkloadResult, WorkloadSettings } from "./protocol.js";

/**
 * What the fleet workloads need of a cache: this library's RedisCache has it as it is; the
 * benchmark adapts its peers (Bentocache, cache-manager) to it, their write-through being their
 * own `set` after the database write.
 */
export interface CacheUnderTest<S = unknown> {
  getOrLoad(key: string, loader: () => Promise<unknown>): Promise<unknown>;
  writeThrough(key: string, writer: () => Promise<unknown>): Promise<unknown>;
  invalidate(key: string): Promise<unknown>;
  /** The value a caller would be served now, or undefined. */
  get(key: string): Promise<unknown>;
  stats(): S;
  close(): Promise<unknown>;
}

/**
 * One cache process of a fleet, over HTTP: `POST /burst { key, count }` runs `count` concurrent
 * getOrLoad of `key` and answers each one's value and time; `POST /workload` a random workload
 * (below); `POST /peek { keys }` what `get` gives for each key; `GET /stats`. Its loaders read the
 * FakeDatabase at `database`. Prints its port; closes the cache on SIGTERM.
 */
export function serveCacheWorker<S>(
  cache: CacheUnderTest<S>,
  { instance, database }: { instance: string; database: string },
): void {
  async function fromDatabase(key: string): Promise<unknown> {
    const url = `${database}/rows/${encodeURIComponent(key)}?instance=${instance}`;
    const response = await fetch(url);
    if (!response.ok) throw new Error(`database: ${response.status}`);
    return ((await response.json()) as { value: unknown }).value;
  }

  async function burst(key: string, count: number): Promise<BurstResult<S>> {
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

  async function writeDatabase(key: string, value: unknown): Promise<void> {
    const url = `${database}/rows/${encodeURIComponent(key)}?instance=${instance}`;
    const response = await fetch(url, { method: "PUT", body: JSON.stringify({ value }) });
    if (!response.ok) throw new Error(`database: ${response.status}`);
  }

  /**
   * Random operations over `keys` keys, `concurrency` at a time: getOrLoad (its loader pauses up
   * to `pauseMs` after reading the database, before the cache stores what it read), writeThrough
   * (pausing after its database write) and an update followed by invalidate (pausing between the
   * two; an invalidation that fails is retried until it succeeds, as an app must, else the cache
   * keeps the old value). Reports failures by kind and each getOrLoad's time.
   */
  async function workload(settings: WorkloadSettings): Promise<WorkloadResult<S>> {
    const { keys, concurrency, pauseMs, reads = 0.6 } = settings;
    const until = settings.durationMs === undefined ? Infinity : Date.now() + settings.durationMs;
    const ops = settings.ops ?? Infinity;
    let next = 0;
    let written = 0;
    const failed = { getOrLoad: 0, writeThrough: 0, invalidate: 0 };
    const errors = new Set<string>();
    const readMs: number[] = [];
    let pending = 0;
    const pause = () => new Promise((resolve) => setTimeout(resolve, Math.random() * pauseMs));
    const one = async () => {
      const key = `k${Math.floor(Math.random() * keys)}`;
      const roll = Math.random();
      if (roll < reads) {
        const started = performance.now();
        pending++;
        try {
          await cache.getOrLoad(key, async () => {
            const value = await fromDatabase(key);
            await pause();
            return value;
          });
        } catch (error) {
          failed.getOrLoad++;
          errors.add((error as Error).message);
        } finally {
          pending--;
          readMs.push(performance.now() - started);
        }
      } else if (roll < reads + (1 - reads) * 0.6) {
        await cache
          .writeThrough(key, async () => {
            const value = `${instance}-${++written}`;
            await writeDatabase(key, value);
            await pause();
            return value;
          })
          .catch(() => failed.writeThrough++);
      } else {
        await writeDatabase(key, `${instance}-${++written}`);
        await pause();
        for (let attempt = 0; ; attempt++) {
          try {
            await cache.invalidate(key);
            break;
          } catch (error) {
            failed.invalidate++;
            if (attempt >= 300) throw error;
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        }
      }
    };
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next++ < ops && Date.now() < until) await one();
      }),
    );
    readMs.sort((a, b) => a - b);
    const p99 = readMs[Math.floor(readMs.length * 0.99)] ?? 0;
    const max = readMs.at(-1) ?? 0;
    return {
      failed,
      errors: [...errors],
      reads: readMs.length,
      readP99Ms: p99,
      readMaxMs: max,
      pending,
      stats: cache.stats(),
    };
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
      } else if (req.url === "/workload") {
        void workload(JSON.parse(body) as WorkloadSettings).then(
          (value) => reply(200, value),
          (error: unknown) => reply(500, { error: String(error) }),
        );
      } else if (req.url === "/peek") {
        const { keys } = JSON.parse(body) as { keys: string[] };
        void Promise.all(keys.map((key) => cache.get(key))).then(
          (values) => reply(200, { values }),
          (error: unknown) => reply(500, { error: String(error) }),
        );
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
}
