import { setTimeout as delay } from "node:timers/promises";
import { afterAll, expect, test } from "vitest";
import { pollUntil } from "../../harness/poll.js";
import { createCache } from "../../src/index.js";
import type { CacheOptions, RedisCache, RedisCacheEvents } from "../../src/index.js";
import { useSingleNode } from "../support/hooks.js";

// The cache's typed events, as a listener sees them: each call's hit, miss, load, coalescing,
// stale answer, refused stale set and invalidation, on a real Redis node.

const redis = useSingleNode();
const caches: RedisCache[] = [];
let prefixes = 0;
afterAll(async () => {
  await Promise.all(caches.map((cache) => cache.close()));
});

/** A cache on a prefix of its own; `shared` gives another "instance" the same keys. */
function newCache(options: Partial<CacheOptions> = {}, shared?: string): RedisCache {
  const cache = createCache({
    redis: redis.current.url,
    prefix: shared ?? `events${++prefixes}:`,
    ...options,
  });
  caches.push(cache);
  return cache;
}

type Recorded = { [E in keyof RedisCacheEvents]?: RedisCacheEvents[E][0][] };

/** Every call event of `cache`, by name, in order. */
function record(cache: RedisCache): Recorded {
  const seen: Recorded = {};
  const push = <E extends keyof Recorded>(name: E, event: RedisCacheEvents[E][0]) => {
    ((seen[name] ??= []) as RedisCacheEvents[E][0][]).push(event);
  };
  cache.on("hit", (event) => push("hit", event));
  cache.on("miss", (event) => push("miss", event));
  cache.on("load", (event) => push("load", event));
  cache.on("coalesced", (event) => push("coalesced", event));
  cache.on("staleServed", (event) => push("staleServed", event));
  cache.on("staleSetRefused", (event) => push("staleSetRefused", event));
  cache.on("invalidated", (event) => push("invalidated", event));
  return seen;
}

test("a miss, its load (timed) and the hits after it, from Redis and from the local tier", async () => {
  const cache = newCache({ local: { maxEntries: 10 } });
  const seen = record(cache);
  await pollUntil("the cache's channel to be live", () => cache.subscribed);
  const loader = async () => {
    await delay(50);
    return { id: 1 };
  };
  await cache.getOrLoad("product:1", loader);
  await cache.getOrLoad("product:1", loader);
  await cache.get("product:1");
  expect(seen.miss).toEqual([{ key: "product:1" }]);
  expect(seen.load).toHaveLength(1);
  expect(seen.load?.[0]).toMatchObject({ key: "product:1", failed: false });
  expect(seen.load?.[0]?.durationMs).toBeGreaterThanOrEqual(49);
  // The first hit fills the local tier (the load's value was kept too): both from it.
  expect(seen.hit).toEqual([
    { key: "product:1", tier: "local" },
    { key: "product:1", tier: "local" },
  ]);
  const { hits, localHits, misses, loads } = cache.stats();
  expect({ hits, localHits, misses, loads }).toEqual({
    hits: 0,
    localHits: 2,
    misses: 1,
    loads: 1,
  });
});

test("a hit from Redis, without a local tier, and a miss of get()", async () => {
  const cache = newCache();
  const seen = record(cache);
  await cache.set("k", 1);
  await expect(cache.get("k")).resolves.toBe(1);
  await expect(cache.get("absent")).resolves.toBeUndefined();
  expect(seen.hit).toEqual([{ key: "k", tier: "redis" }]);
  expect(seen.miss).toEqual([{ key: "absent" }]);
});

test("calls answered by another's work: a call in flight here, and another instance's load", async () => {
  const prefix = `events${++prefixes}:`;
  const first = newCache({}, prefix);
  const second = newCache({}, prefix);
  const seenFirst = record(first);
  const seenSecond = record(second);
  let loads = 0;
  const slow = async () => {
    loads++;
    await delay(300);
    return "value";
  };
  const calls = [first.getOrLoad("shared", slow), first.getOrLoad("shared", slow)];
  // The other instance asks once the first holds the key's lease.
  await delay(100);
  calls.push(second.getOrLoad("shared", slow));
  await expect(Promise.all(calls)).resolves.toEqual(["value", "value", "value"]);
  expect(loads).toBe(1);
  expect(seenFirst.coalesced).toEqual([{ key: "shared", via: "call" }]);
  expect(seenSecond.coalesced).toEqual([{ key: "shared", via: "fleet" }]);
  expect(seenSecond.load).toBeUndefined();
});

test("an expired value answered because its loader failed: staleServed with the error, and the failed load", async () => {
  // Waiting for the refresh up to a second (by default, not at all: "refreshing").
  const cache = newCache({ ttl: 1, staleTtl: 30, ttlJitter: 0, loaderTimeout: { soft: 1_000 } });
  const seen = record(cache);
  await cache.getOrLoad("price", () => 10);
  await delay(1_100);
  const failure = new Error("database down");
  await expect(cache.getOrLoad("price", () => Promise.reject(failure))).resolves.toBe(10);
  expect(seen.staleServed).toEqual([{ key: "price", reason: "loader-failed", error: failure }]);
  expect(seen.load?.map(({ failed }) => failed)).toEqual([false, true]);
});

test("a value invalidated while it loaded is not stored: staleSetRefused; invalidations by key and tag", async () => {
  const cache = newCache();
  const seen = record(cache);
  const loading = cache.getOrLoad("stock", async () => {
    await delay(200);
    return 5;
  });
  await delay(50);
  await cache.invalidate("stock");
  await expect(loading).resolves.toBe(5);
  await cache.invalidate(["a", "b"]);
  await cache.invalidateTag("catalogue");
  expect(seen.staleSetRefused).toEqual([{ key: "stock" }]);
  expect(seen.invalidated).toEqual([
    { keys: ["stock"] },
    { keys: ["a", "b"] },
    { tag: "catalogue" },
  ]);
  expect(cache.stats().rejectedStaleSets).toBe(1);
});

// Last: it stops the file's Redis node and starts it again.
test("Redis stopped for longer than unavailable.waitMs: disconnect, the loader answers, and connect once it is back", async () => {
  const cache = newCache({ unavailable: { waitMs: 300 } });
  const events: string[] = [];
  cache.on("disconnect", () => events.push("disconnect"));
  cache.on("connect", () => events.push("connect"));
  await cache.ready();
  const { server } = redis.current;
  await server.process.stop();
  try {
    await pollUntil("the disconnect event", () => events.includes("disconnect"), {
      timeoutMs: 5_000,
    });
    await expect(cache.getOrLoad("while-down", () => "from the loader")).resolves.toBe(
      "from the loader",
    );
  } finally {
    await server.start();
  }
  await pollUntil("the connect event", () => events.includes("connect"), { timeoutMs: 10_000 });
  expect(events).toEqual(["disconnect", "connect"]);
});
