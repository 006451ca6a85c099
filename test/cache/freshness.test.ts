import { setTimeout as delay } from "node:timers/promises";
import { afterAll, describe, expect, test } from "vitest";
import { pollUntil } from "../../harness/poll.js";
import { createCache, LoaderTimeoutError } from "../../src/index.js";
import type { CacheOptions, RedisCache, RedisCacheEvents } from "../../src/index.js";
import { useSingleNode } from "../support/hooks.js";

// How fresh an answer is and how long a caller waits for it: stale-while-revalidate within
// `staleTtl`, `loaderTimeout.soft` and `.hard`, on a real Redis node.

const redis = useSingleNode();
const caches: RedisCache[] = [];
let prefixes = 0;
afterAll(async () => {
  await Promise.all(caches.map((cache) => cache.close()));
});

function newCache(options: Partial<CacheOptions> = {}): RedisCache {
  const cache = createCache({
    redis: redis.current.url,
    prefix: `fresh${++prefixes}:`,
    ...options,
  });
  caches.push(cache);
  return cache;
}

/** A database row read by a loader that takes `ms`: `read()` counts the reads. */
function row<T>(value: T, ms: number) {
  const state = {
    value,
    reads: 0,
    read: async (): Promise<T> => {
      state.reads++;
      const now = state.value;
      await delay(ms);
      return now;
    },
  };
  return state;
}

/** How long `call` took, and what it gave. */
async function timed<T>(call: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await call();
  return { value, ms: performance.now() - started };
}

const expiring = { ttl: 1, staleTtl: 60, ttlJitter: 0 } as const;

describe("stale-while-revalidate (within staleTtl)", () => {
  test("an expired value is answered at once while one refresh runs; then the refreshed one", async () => {
    const cache = newCache(expiring);
    const stale: RedisCacheEvents["staleServed"][0][] = [];
    cache.on("staleServed", (event) => stale.push(event));
    const price = row(10, 1_500);
    await cache.getOrLoad("price", price.read);
    await delay(1_100);
    price.value = 11;
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => timed(() => cache.getOrLoad("price", price.read))),
    );
    expect(answers.map(({ value }) => value)).toEqual(Array(20).fill(10));
    expect(Math.max(...answers.map(({ ms }) => ms))).toBeLessThan(50);
    // Later calls while it runs: the same, and no second refresh.
    expect(await cache.getOrLoad("price", price.read)).toBe(10);
    expect(stale[0]).toEqual({ key: "price", reason: "refreshing", error: undefined });
    await pollUntil("the refresh to be stored", async () => (await cache.get("price")) === 11);
    expect(await cache.getOrLoad("price", price.read)).toBe(11);
    expect(price.reads).toBe(2);
  });

  test("a failed refresh is not tried again for 5 s: the expired value is answered meanwhile", async () => {
    const cache = newCache(expiring);
    await cache.getOrLoad("price", () => 10);
    await delay(1_100);
    let attempts = 0;
    const failing = () => {
      attempts++;
      return Promise.reject(new Error("database down"));
    };
    for (let i = 0; i < 10; i++) {
      expect(await cache.getOrLoad("price", failing)).toBe(10);
      await delay(50);
    }
    expect(attempts).toBe(1);
  });

  test("a value of a tag invalidated since is not answered stale: the caller waits for the load", async () => {
    const cache = newCache(expiring);
    const stock = row(5, 300);
    await cache.getOrLoad("stock", stock.read, { tags: ["stock"] });
    await cache.invalidateTag("stock");
    stock.value = 4;
    const { value, ms } = await timed(() =>
      cache.getOrLoad("stock", stock.read, { tags: ["stock"] }),
    );
    expect(value).toBe(4);
    expect(ms).toBeGreaterThanOrEqual(290);
  });
});

describe("loaderTimeout", () => {
  test("soft: an expired value is answered once it is up, and the load goes on to fill the cache", async () => {
    const cache = newCache({ ...expiring, loaderTimeout: { soft: 200 } });
    const price = row(10, 1_000);
    await cache.getOrLoad("price", price.read);
    await delay(1_100);
    price.value = 11;
    const { value, ms } = await timed(() => cache.getOrLoad("price", price.read));
    expect(value).toBe(10);
    expect(ms).toBeGreaterThanOrEqual(190);
    expect(ms).toBeLessThan(900);
    await pollUntil("the load to be stored", async () => (await cache.get("price")) === 11);
    expect(price.reads).toBe(2);
  });

  test("soft: a load done within it answers its own value", async () => {
    const cache = newCache({ ...expiring, loaderTimeout: { soft: 500 } });
    const price = row(10, 50);
    await cache.getOrLoad("price", price.read);
    await delay(1_100);
    price.value = 11;
    expect(await cache.getOrLoad("price", price.read)).toBe(11);
  });

  test("hard: with nothing stale, the caller gets a LoaderTimeoutError naming the key; the load still fills the cache", async () => {
    const cache = newCache({ loaderTimeout: { hard: 200 } });
    const price = row(10, 1_000);
    const calls = [
      timed(() => cache.getOrLoad("slow", price.read)).catch((error: unknown) => error),
      timed(() => cache.getOrLoad("slow", price.read)).catch((error: unknown) => error),
    ];
    const started = performance.now();
    const [first, second] = await Promise.all(calls);
    const ms = performance.now() - started;
    expect(first).toBeInstanceOf(LoaderTimeoutError);
    expect(second).toBe(first);
    expect(String(first)).toMatch(
      /the loader for cache key "slow" did not finish within 200 ms \(option `loaderTimeout.hard`\)/,
    );
    expect(ms).toBeGreaterThanOrEqual(190);
    expect(ms).toBeLessThan(900);
    await pollUntil("the load to be stored", async () => (await cache.get("slow")) === 10);
    expect(price.reads).toBe(1);
  });

  test("hard: another instance waiting for the load gives up at it too", async () => {
    const prefix = `fresh${++prefixes}:`;
    const instance = () => {
      const cache = createCache({ redis: redis.current.url, prefix, loaderTimeout: { hard: 300 } });
      caches.push(cache);
      return cache;
    };
    const [one, two] = [instance(), instance()];
    const price = row(10, 1_000);
    const holding = one.getOrLoad("k", price.read).catch((error: unknown) => error);
    await delay(50);
    const waiting = await timed(() =>
      two.getOrLoad("k", price.read).catch((error: unknown) => error),
    );
    expect(waiting.value).toBeInstanceOf(LoaderTimeoutError);
    expect(waiting.ms).toBeLessThan(900);
    expect(await holding).toBeInstanceOf(LoaderTimeoutError);
    expect(price.reads).toBe(1);
  });

  test.each([
    [{ soft: -1 }, /`loaderTimeout.soft` must be a whole number of ms, 0 or more; got number -1/],
    [{ hard: 0 }, /`loaderTimeout.hard` must be a positive whole number of ms; got number 0/],
    [
      { soft: 500, hard: 100 },
      /`loaderTimeout.soft` \(500 ms\) must be at most `loaderTimeout.hard` \(100 ms\)/,
    ],
    [{ sfot: 1 }, /`loaderTimeout.sfot` is not a known option/],
  ])("%o is refused at start-up, naming the option", (loaderTimeout, message) => {
    expect(() => createCache({ redis: redis.current.url, loaderTimeout } as CacheOptions)).toThrow(
      message,
    );
  });
});

describe("a call's `ttl` as a function of the value", () => {
  test("sets how long each loaded, set or written-through value is fresh", async () => {
    const cache = newCache({ ttlJitter: 0 });
    const ttl = (product: { onSale: boolean }) => (product.onSale ? 1 : 3_600);
    await cache.getOrLoad("sale", () => ({ onSale: true }), { ttl });
    await cache.getOrLoad("regular", () => ({ onSale: false }), { ttl });
    await cache.set("set-sale", { onSale: true }, { ttl });
    await cache.writeThrough("written-sale", () => ({ onSale: true }), { ttl });
    await delay(1_100);
    // The value on sale has expired (a miss loads again); the other is still fresh.
    const loads: string[] = [];
    const load = (key: string) => () => {
      loads.push(key);
      return { onSale: false };
    };
    for (const key of ["sale", "regular", "set-sale", "written-sale"]) {
      await cache.getOrLoad(key, load(key), { ttl });
    }
    expect(loads).toEqual(["sale", "set-sale", "written-sale"]);
  });

  test("a function that returns no positive number of seconds: a TypeError naming the key, nothing stored", async () => {
    const cache = newCache();
    const bad = { ttl: () => "an hour" as unknown as number };
    const failures = await Promise.all([
      cache.getOrLoad("bad-load", () => 1, bad).catch((error: unknown) => error),
      cache.set("bad-set", 1, bad).catch((error: unknown) => error),
      cache.writeThrough("bad-write", () => 1, bad).catch((error: unknown) => error),
    ]);
    for (const [i, key] of ["bad-load", "bad-set", "bad-write"].entries()) {
      expect(failures[i]).toBeInstanceOf(TypeError);
      expect(String(failures[i])).toMatch(
        new RegExp(
          `\`ttl\` returned "an hour" for cache key "${key}": it must return a positive number of seconds`,
        ),
      );
      expect(await cache.get(key)).toBeUndefined();
    }
    // The lease was given back: the next call loads.
    await expect(cache.getOrLoad("bad-load", () => 2)).resolves.toBe(2);
  });
});
