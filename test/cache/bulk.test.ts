import { describe, expect, test } from "vitest";
import { CACHE_TOPOLOGIES, useCacheTopology } from "../support/cacheTopology.js";

// Bulk reads: getMany, and getOrLoadMany with one call of its loader for the keys a process
// loads together, each key keeping getOrLoad's one-load-per-fleet guarantee.
describe.each(CACHE_TOPOLOGIES)("on %s", (topology) => {
  const { instances } = useCacheTopology(topology);
  const keys = Array.from({ length: 20 }, (_, i) => `product:${i}`);
  /** A bulk loader by rows `{ id }`, recording the keys of each call. */
  function rows() {
    const calls: string[][] = [];
    const loader = (asked: string[]) => {
      calls.push(asked);
      return new Map(asked.map((key) => [key, { id: key }]));
    };
    return { calls, loader };
  }

  test("getMany: the cached values in the keys' order, undefined for the others", async () => {
    const [cache] = instances(1);
    await cache?.set("a", 1);
    await cache?.set("b", { two: 2 });
    expect(await cache?.getMany(["a", "missing", "b"])).toEqual([1, undefined, { two: 2 }]);
  });

  test("getOrLoadMany: the missing keys in one loader call, results in order; then all hits", async () => {
    const [cache] = instances(1);
    if (cache === undefined) throw new Error("no cache");
    for (const key of keys.slice(0, 8)) await cache.set(key, { id: key, cached: true });
    const { calls, loader } = rows();
    const values = await cache.getOrLoadMany(keys, loader);
    expect(values).toEqual(keys.map((key, i) => (i < 8 ? { id: key, cached: true } : { id: key })));
    expect(calls).toEqual([keys.slice(8)]);
    expect(await cache.getOrLoadMany(keys, loader)).toEqual(values);
    expect(calls).toHaveLength(1);
  });

  test("two instances asking for overlapping keys at once: each key loaded once across them", async () => {
    const [one, two] = instances(2);
    if (one === undefined || two === undefined) throw new Error("no caches");
    const first = rows();
    const second = rows();
    const [a, b] = await Promise.all([
      one.getOrLoadMany(keys.slice(0, 14), async (asked) => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        return first.loader(asked);
      }),
      two.getOrLoadMany(keys.slice(6), async (asked) => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        return second.loader(asked);
      }),
    ]);
    expect(a).toEqual(keys.slice(0, 14).map((id) => ({ id })));
    expect(b).toEqual(keys.slice(6).map((id) => ({ id })));
    const loaded = [...first.calls.flat(), ...second.calls.flat()].sort();
    expect(loaded).toEqual([...keys].sort());
  });

  test("a loader's array, object or Map; a key it leaves out is undefined and not cached, null is", async () => {
    const [cache] = instances(1);
    if (cache === undefined) throw new Error("no cache");
    expect(await cache.getOrLoadMany(["x", "y"], (asked) => asked.map((key) => `${key}!`))).toEqual(
      ["x!", "y!"],
    );
    expect(await cache.getOrLoadMany(["o"], () => ({ o: 1 }))).toEqual([1]);
    let calls = 0;
    const sparse = (asked: string[]) => {
      calls++;
      return new Map(asked.filter((key) => key !== "gone").map((key) => [key, null]));
    };
    expect(await cache.getOrLoadMany(["gone", "none"], sparse)).toEqual([undefined, null]);
    expect(await cache.getOrLoadMany(["gone", "none"], sparse)).toEqual([undefined, null]);
    expect(calls).toBe(2);
    expect(cache.stats().loads).toBeGreaterThanOrEqual(3);
  });

  test("a loader that fails rejects the call; wrong arguments are a TypeError", async () => {
    const [cache] = instances(1);
    if (cache === undefined) throw new Error("no cache");
    await expect(
      cache.getOrLoadMany(["f1", "f2"], () => Promise.reject(new Error("database down"))),
    ).rejects.toThrow("database down");
    await expect(cache.getOrLoadMany("f1" as unknown as string[], () => [])).rejects.toThrow(
      /getOrLoadMany takes an array of keys and a function/,
    );
    await expect(cache.getMany("f1" as unknown as string[])).rejects.toThrow(
      /getMany: `keys` must be an array/,
    );
  });
});
