import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, test } from "vitest";
import { createCache, v8Serializer } from "../../src/index.js";
import type { CacheOptions, CacheSerializer, RedisCache } from "../../src/index.js";
import { useSingleNode } from "../support/hooks.js";

// Values come back as they went in: with a `serializer` that keeps Dates, Maps, Sets and BigInts
// they do; under plain JSON (the default) they are refused rather than changed.

const redis = useSingleNode();
const caches: RedisCache[] = [];
let prefixes = 0;
let admin: Redis;
beforeAll(() => {
  admin = new Redis(redis.current.url);
});
afterAll(async () => {
  await Promise.all(caches.map((cache) => cache.close()));
  await admin.quit();
});

function newCache(options: Partial<CacheOptions> = {}, prefix = `ser${++prefixes}:`) {
  const cache = createCache({ redis: redis.current.url, prefix, ...options });
  caches.push(cache);
  return cache;
}

const order = () => ({
  placedAt: new Date("2026-12-08T03:00:00Z"),
  items: new Map([["tea", 2n]]),
  labels: new Set(["gift"]),
});

test("v8Serializer: a Date, a Map of BigInts and a Set come back as they went in, from Redis", async () => {
  const cache = newCache({ serializer: v8Serializer });
  await cache.getOrLoad("order:1", order);
  await cache.set("order:2", order());
  await cache.writeThrough("order:3", order);
  for (const key of ["order:1", "order:2", "order:3"]) {
    const back = await cache.get<ReturnType<typeof order>>(key);
    expect(back).toStrictEqual(order());
    expect(back?.placedAt).toBeInstanceOf(Date);
  }
  expect(await cache.getOrLoad("order:1", () => ({}))).toStrictEqual(order());
  expect(cache.stats()).toMatchObject({ loads: 1, hits: 4 });
});

test("the same value under plain JSON: refused with a TypeError naming the key, nothing stored", async () => {
  const cache = newCache();
  const refused = await cache.getOrLoad("order:1", order).catch((error: unknown) => error);
  expect(refused).toBeInstanceOf(TypeError);
  expect(String(refused)).toMatch(
    /the value for cache key "order:1" cannot be stored as JSON: a Date at "placedAt" would come back as a string/,
  );
  expect(await cache.get("order:1")).toBeUndefined();
});

test("a value the serializer would not give back as it was (a class instance) is refused, naming the key", async () => {
  class Money {
    constructor(readonly cents: number) {}
  }
  const cache = newCache({ serializer: v8Serializer });
  await expect(cache.set("price", new Money(250))).rejects.toThrow(
    /the value for cache key "price" cannot be stored with the `serializer`: it would not come back as it was/,
  );
  await expect(cache.set("fn", { run: () => 1 })).rejects.toThrow(
    /cache key "fn" cannot be stored/,
  );
  expect(await cache.get("price")).toBeUndefined();
});

test("any object with stringify and parse serves (superjson's shape)", async () => {
  const datesRevived: CacheSerializer = {
    stringify: (value) =>
      JSON.stringify(value, function (this: Record<string, unknown>, key, encoded: unknown) {
        const raw = this[key];
        return raw instanceof Date ? { $date: raw.toISOString() } : encoded;
      }),
    parse: (text) =>
      JSON.parse(text, (_key, value: unknown) =>
        typeof value === "object" && value !== null && "$date" in value
          ? new Date(String(value.$date))
          : value,
      ) as unknown,
  };
  const cache = newCache({ serializer: datesRevived });
  await cache.set("event", { at: new Date(0) });
  expect(await cache.get("event")).toStrictEqual({ at: new Date(0) });
});

test("values stored with a serializer, read by a cache without it: a miss, reported, not a crash", async () => {
  const prefix = `ser${++prefixes}:`;
  await newCache({ serializer: v8Serializer }, prefix).set("order", order());
  const plain = newCache({}, prefix);
  expect(await plain.get("order")).toBeUndefined();
  expect(plain.stats().corrupt).toBe(1);
  expect(await plain.getOrLoad("order", () => ({ plain: true }))).toEqual({ plain: true });
});

test.each([
  [JSON.stringify, /`serializer` must have `stringify\(value\)` and `parse\(text\)` methods/],
  [{ stringify: () => "" }, /`serializer` must have/],
])(
  "a serializer without both methods is refused at start-up, naming the option",
  (serializer, message) => {
    expect(() =>
      createCache({ redis: redis.current.url, serializer } as unknown as CacheOptions),
    ).toThrow(message);
  },
);
