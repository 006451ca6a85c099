import { setTimeout as delay } from "node:timers/promises";
import { describe, expect, test } from "vitest";
import { pollUntil } from "../../harness/poll.js";
import { CACHE_TOPOLOGIES, useCacheTopology } from "../support/cacheTopology.js";

// Namespaces: keys apart, and clear() invalidating all of one at once — on a Cluster too, where
// its keys sit on every shard and no KEYS or SCAN is used.
describe.each(CACHE_TOPOLOGIES)("on %s", (topology) => {
  const topologyOf = useCacheTopology(topology);
  /** `count` instances of one cache (one prefix), with a local tier. */
  const instances = (count: number) => topologyOf.instances(count, { local: { maxEntries: 100 } });

  test("clear() empties one namespace for every instance; the others and its keys' names stay apart", async () => {
    const [one, two] = instances(2);
    if (one === undefined || two === undefined) throw new Error("no caches");
    await pollUntil("both to be subscribed", () => one.subscribed && two.subscribed);
    const products = one.namespace("products");
    const users = one.namespace("users");
    for (let i = 0; i < 30; i++) {
      await products.set(`p${i}`, { id: i });
      await users.set(`p${i}`, { user: i });
    }
    // The same key in two namespaces: two values.
    expect(await products.get("p1")).toEqual({ id: 1 });
    expect(await users.get("p1")).toEqual({ user: 1 });
    // The other instance has some in its local tier.
    for (let i = 0; i < 5; i++) await two.namespace("products").getOrLoad(`p${i}`, () => null);
    expect(two.stats().loads).toBe(0);
    await products.clear();
    await pollUntil("the clear to reach the other instance", async () => {
      const seen = await two.namespace("products").get("p0");
      return seen === undefined;
    });
    for (let i = 0; i < 30; i++) {
      expect(await two.namespace("products").get(`p${i}`)).toBeUndefined();
      expect(await users.get(`p${i}`)).toEqual({ user: i });
    }
    // A miss loads again, and that value stays.
    expect(await two.namespace("products").getOrLoad("p3", () => ({ id: 3, again: true }))).toEqual(
      {
        id: 3,
        again: true,
      },
    );
    expect(await one.namespace("products").get("p3")).toEqual({ id: 3, again: true });
  });

  test("a load that began before clear() cannot store its value after it", async () => {
    const [cache] = instances(1);
    if (cache === undefined) throw new Error("no cache");
    const products = cache.namespace("products");
    const loading = products.getOrLoad("slow", async () => {
      await delay(300);
      return "read before the clear";
    });
    await delay(50);
    await products.clear();
    expect(await loading).toBe("read before the clear");
    expect(await products.get("slow")).toBeUndefined();
  });

  test("a namespace's name must be a non-empty string", () => {
    const [cache] = instances(1);
    expect(() => cache?.namespace("")).toThrow(/a namespace's name must be a non-empty string/);
    expect(() => cache?.namespace(7 as unknown as string)).toThrow(/got number/);
  });
});
