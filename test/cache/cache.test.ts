import { setTimeout as delay } from "node:timers/promises";
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createCache, redisCacheAclRules } from "../../src/index.js";
import type { CacheOptions, RedisCache, RedisTopology } from "../../src/index.js";
import { useCluster, useSentinel, useSingleNode } from "../support/hooks.js";

// The cache on a single node, on Sentinel (a master, 2 replicas; changes confirmed by 1) and on
// a 3-shard Cluster (a master and a replica each), against real Redis processes.
describe.each(["a single node", "Sentinel", "a Cluster"] as const)("on %s", (topology) => {
  const single = topology === "a single node" ? useSingleNode() : undefined;
  const sentinel = topology === "Sentinel" ? useSentinel() : undefined;
  const cluster =
    topology === "a Cluster" ? useCluster({ masters: 3, replicasPerMaster: 1 }) : undefined;
  const redisOption = (): RedisTopology =>
    single?.current.url ?? sentinel?.current.redisOption ?? cluster?.current.redisOption ?? "";
  let admin: Redis | Cluster;
  const caches: RedisCache[] = [];
  let prefixes = 0;

  beforeAll(async () => {
    if (cluster !== undefined) admin = new Cluster(cluster.current.redisOption.cluster);
    else if (single !== undefined) admin = new Redis(single.current.url);
    else admin = new Redis((await sentinel?.current.currentMaster())?.port ?? 0, "127.0.0.1");
  });
  afterAll(async () => {
    await Promise.all(caches.map((cache) => cache.close()));
    await admin.quit();
  });

  /** A cache on its own prefix (several with `prefix` share one, as app instances do). */
  function newCache(options: Partial<CacheOptions> = {}): RedisCache {
    const cache = createCache({ redis: redisOption(), prefix: `c${++prefixes}:`, ...options });
    caches.push(cache);
    return cache;
  }

  /** A loader that counts its calls, takes `ms` and returns `value()`. */
  function countingLoader<T>(value: () => T, ms = 0) {
    const loader = Object.assign(
      async () => {
        loader.calls++;
        if (ms > 0) await delay(ms);
        return value();
      },
      { calls: 0 },
    );
    return loader;
  }

  describe("lazy loading", () => {
    test("a miss loads once and stores the value; the next call is a hit", async () => {
      const cache = newCache();
      const loader = countingLoader(() => ({ id: 1, name: "tea" }));
      await expect(cache.getOrLoad("product:1", loader)).resolves.toEqual({ id: 1, name: "tea" });
      await expect(cache.getOrLoad("product:1", loader)).resolves.toEqual({ id: 1, name: "tea" });
      await expect(cache.get("product:1")).resolves.toEqual({ id: 1, name: "tea" });
      expect(loader.calls).toBe(1);
      expect(cache.stats()).toMatchObject({ hits: 2, misses: 1, loads: 1, errors: 0 });
    });

    test("500 concurrent calls for a cold key in one process: 1 load, 499 coalesced", async () => {
      const cache = newCache();
      const loader = countingLoader(() => "value", 100);
      const values = await Promise.all(
        Array.from({ length: 500 }, () => cache.getOrLoad("cold", loader)),
      );
      expect(new Set(values)).toEqual(new Set(["value"]));
      expect(loader.calls).toBe(1);
      expect(cache.stats()).toMatchObject({ loads: 1, coalesced: 499 });
    });

    test("4 caches on one prefix (as 4 instances) × 100 concurrent calls for a cold key: 1 load in all", async () => {
      const prefix = `shared${++prefixes}:`;
      const instances = Array.from({ length: 4 }, () => newCache({ prefix }));
      const loader = countingLoader(() => "loaded once", 300);
      const values = await Promise.all(
        instances.flatMap((cache) =>
          Array.from({ length: 100 }, () => cache.getOrLoad("cold", loader)),
        ),
      );
      expect(new Set(values)).toEqual(new Set(["loaded once"]));
      expect(loader.calls).toBe(1);
      const loads = instances.reduce((sum, cache) => sum + cache.stats().loads, 0);
      expect(loads).toBe(1);
    });

    test("null is cached for negativeTtl; undefined is returned and not cached", async () => {
      const cache = newCache();
      const missing = countingLoader(() => null);
      await cache.getOrLoad("missing", missing);
      await expect(cache.getOrLoad("missing", missing)).resolves.toBeNull();
      expect(missing.calls).toBe(1);
      const nothing = countingLoader(() => undefined);
      await expect(cache.getOrLoad("nothing", nothing)).resolves.toBeUndefined();
      await expect(cache.getOrLoad("nothing", nothing)).resolves.toBeUndefined();
      expect(nothing.calls).toBe(2);
      expect(await admin.exists(`c${prefixes}:{nothing}`)).toBe(0);
    });

    test("a loader's error reaches every caller waiting for it and is not cached", async () => {
      const cache = newCache();
      let calls = 0;
      const failing = async () => {
        calls++;
        await delay(50);
        throw new Error("database down");
      };
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, () => cache.getOrLoad("broken", failing)),
      );
      expect(results.every((result) => result.status === "rejected")).toBe(true);
      expect(calls).toBe(1);
      await expect(cache.getOrLoad("broken", () => "fixed")).resolves.toBe("fixed");
    });

    test("staleTtl: an expired value is served when its loader fails", async () => {
      const cache = newCache({
        ttl: 1,
        staleTtl: 30,
        ttlJitter: 0,
        loaderTimeout: { soft: 1_000 },
      });
      await cache.getOrLoad("price", () => 10);
      await delay(1_100);
      await expect(
        cache.getOrLoad("price", () => Promise.reject(new Error("database down"))),
      ).resolves.toBe(10);
      expect(cache.stats().staleServed).toBe(1);
      // No second refresh right after a failed one (REFRESH_BACKOFF_MS): still the expired value.
      let loads = 0;
      const recovered = () => {
        loads++;
        return 11;
      };
      await expect(cache.getOrLoad("price", recovered)).resolves.toBe(10);
      expect(loads).toBe(0);
    });
  });

  describe("stats", () => {
    test("changes confirmed by replicas are counted as the store counts its writes: batches and their WAIT", async () => {
      const cache = newCache();
      await cache.set("h", 1);
      await cache.invalidate("h");
      const { writeBatchSize, waitLatencyMs } = cache.stats();
      if (topology === "a single node") {
        // No replica to confirm anything: the changes go directly.
        expect(writeBatchSize.count).toBe(0);
        expect(waitLatencyMs.count).toBe(0);
        return;
      }
      // Two changes one after the other: two batches of one, each confirmed by a WAIT.
      expect(writeBatchSize).toMatchObject({ count: 2, sum: 2 });
      expect(writeBatchSize.buckets[0]).toEqual({ le: 1, count: 2 });
      expect(waitLatencyMs.count).toBeGreaterThanOrEqual(2);
    });
  });

  describe("no stale sets", () => {
    test("a load that read the database before a write-through never stores its old value", async () => {
      const cache = newCache();
      let db = "old";
      const loaded = signal();
      const slowRead = async () => {
        const read = db;
        loaded.fire();
        await delay(300);
        return read;
      };
      const load = cache.getOrLoad("row", slowRead);
      // Once the load has read the database (a fixed delay raced the load's own round trips on a
      // loaded machine: the load then read the new value, and the test failed for nothing).
      await loaded.read;
      await cache.writeThrough("row", () => {
        db = "new";
        return db;
      });
      await expect(load).resolves.toBe("old");
      await expect(cache.get("row")).resolves.toBe("new");
      await expect(cache.getOrLoad("row", () => db)).resolves.toBe("new");
      expect(cache.stats().rejectedStaleSets).toBe(1);
    });

    test("a load in flight during invalidate() does not store its value", async () => {
      const cache = newCache();
      let db = 1;
      const loaded = signal();
      const load = cache.getOrLoad("n", async () => {
        const read = db;
        loaded.fire();
        await delay(300);
        return read;
      });
      // Once the load has read the database (failed in CI with a fixed 50 ms: the load read 2).
      await loaded.read;
      db = 2;
      await cache.invalidate("n");
      await load;
      await expect(cache.get("n")).resolves.toBeUndefined();
      await expect(cache.getOrLoad("n", () => db)).resolves.toBe(2);
    });

    test("two write-throughs in flight together: the cache ends up with what the database holds", async () => {
      const cache = newCache();
      let db = "v0";
      const writing = signal();
      const first = cache.writeThrough("w", async () => {
        writing.fire();
        await delay(200);
        db = "v1";
        return db;
      });
      await writing.read;
      const second = cache.writeThrough("w", () => {
        db = "v2";
        return db;
      });
      await Promise.all([first, second]);
      expect(db).toBe("v1");
      await expect(cache.getOrLoad("w", () => db)).resolves.toBe("v1");
    });

    test("a write-through that never ends (its process died): another instance's reads load the database's value and store nothing", async () => {
      const writer = newCache();
      const reader = newCache({ prefix: `c${prefixes}:` });
      let db = "old";
      await reader.getOrLoad("d", () => db);
      // The writer commits to the database and then never reaches Redis again.
      const committed = signal();
      void writer.writeThrough("d", () => {
        db = "new";
        committed.fire();
        return new Promise<string>(() => undefined);
      });
      await committed.read;
      const loader = countingLoader(() => db);
      await expect(reader.getOrLoad("d", loader)).resolves.toBe("new");
      await expect(reader.getOrLoad("d", loader)).resolves.toBe("new");
      expect(loader.calls).toBe(2);
      await expect(reader.get("d")).resolves.toBeUndefined();
      expect(reader.stats().rejectedStaleSets).toBe(2);
    });

    test("invalidateTag: values stored with the tag before it are gone, others stay", async () => {
      const cache = newCache();
      await cache.getOrLoad("a", () => "a1", { tags: ["catalogue"] });
      await cache.getOrLoad("b", () => "b1");
      await cache.invalidateTag("catalogue");
      await expect(cache.get("a")).resolves.toBeUndefined();
      await expect(cache.getOrLoad("a", () => "a2", { tags: ["catalogue"] })).resolves.toBe("a2");
      await expect(cache.get("b")).resolves.toBe("b1");
    });
  });

  describe("bad input", () => {
    test("bad options throw a TypeError naming the option", () => {
      expect(() => createCache({ redis: redisOption(), ttll: 5 } as never)).toThrow(
        /`ttll` is not a known option.*Did you mean `ttl`/,
      );
      expect(() => createCache({ redis: redisOption(), ttl: -1 })).toThrow(/`ttl` must be/);
      expect(() => createCache({ redis: redisOption(), local: { maxEntries: 0 } })).toThrow(
        /`local.maxEntries`/,
      );
      expect(() =>
        createCache({ redis: redisOption(), unavailable: { changeWait: 5 } } as never),
      ).toThrow(/`unavailable.changeWait` is not a known option.*Did you mean `changeWaitMs`/);
      expect(() => createCache({ redis: redisOption(), unavailable: { changeWaitMs: 0 } })).toThrow(
        /`unavailable.changeWaitMs` must be/,
      );
    });

    test("a value JSON cannot encode rejects with a TypeError naming the key and caches nothing", async () => {
      const cache = newCache();
      await expect(cache.getOrLoad("big", () => 10n)).rejects.toThrow(
        /value for cache key "big" cannot be stored as JSON/,
      );
      const cycle: Record<string, unknown> = {};
      cycle.self = cycle;
      await expect(cache.getOrLoad("cycle", () => cycle)).rejects.toThrow(TypeError);
      await expect(cache.get("big")).resolves.toBeUndefined();
      await expect(cache.getOrLoad("big", () => 1)).resolves.toBe(1);
    });

    test("a call's options are checked as the factory's: a TypeError naming the call and the option, and the loader is not run", async () => {
      const cache = newCache({ local: { maxEntries: 10 } });
      const loader = countingLoader(() => "loaded");
      const calls: [string, () => Promise<unknown>, RegExp][] = [
        [
          "tags as a string (plain JavaScript)",
          () => cache.getOrLoad("k", loader, { tags: "catalogue" } as never),
          /getOrLoad: `tags` must be an array of non-empty strings.*got "catalogue"/,
        ],
        [
          "an empty tag",
          () => cache.getOrLoad("k", loader, { tags: ["a", ""] }),
          /getOrLoad: `tags` must hold non-empty strings/,
        ],
        [
          "a misspelt option",
          () => cache.getOrLoad("k", loader, { tag: ["a"] } as never),
          /getOrLoad: `tag` is not a known option.*Did you mean `tags`/,
        ],
        [
          "a ttl in a string",
          () => cache.writeThrough("k", loader, { ttl: "60" } as never),
          /writeThrough: `ttl` must be a positive whole number of seconds or a function of the value; got "60"/,
        ],
        ["options not an object", () => cache.set("k", 1, 5 as never), /set: `options` must be/],
        ["ttl on get", () => cache.get("k", { ttl: 5 } as never), /get: `ttl` is not a known/],
        ["a number for keys", () => cache.invalidate(5 as never), /invalidate: `keys` must be/],
      ];
      for (const [what, run, message] of calls) {
        await expect(run(), what).rejects.toThrow(TypeError);
        await expect(run(), what).rejects.toThrow(message);
      }
      expect(loader.calls).toBe(0);
      // Also on a local-tier hit: the same call fails the same way, whatever is cached.
      await cache.getOrLoad("k", () => "cached");
      await expect(cache.getOrLoad("k", loader, { tags: "catalogue" } as never)).rejects.toThrow(
        /`tags` must be an array/,
      );
      await expect(cache.getOrLoad("k", loader)).resolves.toBe("cached");
    });

    test("a value JSON would not give back as it was is refused with a TypeError naming the key and what: a hit returns what the miss did", async () => {
      const cache = newCache();
      class Product {
        constructor(readonly id: number) {}
      }
      const refused: [unknown, RegExp][] = [
        [{ at: new Date(0) }, /a Date at "at" would come back as a string/],
        [{ m: new Map([[1, 2]]) }, /a Map at "m" would come back as a plain object/],
        [{ s: new Set([1]) }, /a Set at "s"/],
        [[1, undefined], /undefined at index 1 would come back as null/],
        [{ price: Number.NaN }, /NaN at "price" would come back as null/],
        [new Product(1), /a Product would come back as a plain object/],
        [{ run: () => 1 }, /a function at "run" would be left out/],
        [{ big: 10n }, /a BigInt at "big"/],
      ];
      for (const [value, why] of refused) {
        await expect(cache.getOrLoad("v", () => value)).rejects.toThrow(TypeError);
        await expect(cache.getOrLoad("v", () => value)).rejects.toThrow(
          /the value for cache key "v" cannot be stored as JSON/,
        );
        await expect(cache.getOrLoad("v", () => value)).rejects.toThrow(why);
        await expect(cache.set("v", value)).rejects.toThrow(why);
      }
      await expect(cache.get("v")).resolves.toBeUndefined();
      // Plain data round-trips; a property that is undefined reads the same, left out.
      const plain = { id: 1, tags: ["a"], nested: { at: "1970-01-01T00:00:00.000Z", n: null } };
      const missed = await cache.getOrLoad("p", () => ({ ...plain, gone: undefined }));
      const hit = await cache.getOrLoad("p", () => "not loaded again");
      expect(hit).toEqual(missed);
      expect(hit).toEqual(plain);
    });

    test("keys: empty, too long or starting with } are refused", async () => {
      const cache = newCache();
      await expect(cache.getOrLoad("", () => 1)).rejects.toThrow(/non-empty/);
      await expect(cache.getOrLoad("x".repeat(2_000), () => 1)).rejects.toThrow(/longer than 1024/);
      await expect(cache.getOrLoad("}x", () => 1)).rejects.toThrow(/must not start with "}"/);
    });

    test("an entry not in the cache's format is a miss, reported once, never an exception", async () => {
      const cache = newCache();
      const prefix = `c${prefixes}:`;
      await admin.set(`${prefix}{foreign}`, "written by something else");
      await admin.set(`${prefix}{cut}`, '{"c":1,"e":99999999999999,"v":{"na');
      await admin.hset(`${prefix}{hash}`, "field", "value");
      for (const key of ["foreign", "cut", "hash"]) {
        await expect(cache.getOrLoad(key, () => `${key} loaded`)).resolves.toBe(`${key} loaded`);
        await expect(cache.get(key)).resolves.toBe(`${key} loaded`);
      }
      expect(cache.stats().corrupt).toBe(3);
    });
  });
});

describe("Redis unreachable", () => {
  test("getOrLoad calls the loader within the wait bound; invalidate rejects past changeWaitMs; nothing hangs", async () => {
    const cache = createCache({
      redis: "redis://127.0.0.1:1",
      unavailable: { waitMs: 200, changeWaitMs: 500 },
    });
    const started = Date.now();
    await expect(cache.getOrLoad("k", () => "from the database")).resolves.toBe(
      "from the database",
    );
    expect(Date.now() - started).toBeLessThan(1_000);
    const writer = { calls: 0 };
    await expect(cache.invalidate("k")).rejects.toThrow(/Redis did not complete/);
    await expect(cache.writeThrough("k", () => ++writer.calls)).rejects.toThrow(
      /Redis did not complete/,
    );
    // The write-through could not fence the key, so it did not write.
    expect(writer.calls).toBe(0);
    expect(cache.stats().errors).toBeGreaterThanOrEqual(3);
    await cache.close();
  });
});

describe("Redis frozen for a second", () => {
  const redis = useSingleNode();

  test("a change made meanwhile waits it out and lands; a read meanwhile goes to the loader", async () => {
    const cache = createCache({ redis: redis.current.url, unavailable: { waitMs: 200 } });
    await cache.set("k", "old");
    const { process } = redis.current.server;
    process.pause();
    let resumed = 0;
    setTimeout(() => {
      resumed = Date.now();
      process.resume();
    }, 1_000);
    try {
      const written = cache.writeThrough("k", () => "new");
      await expect(cache.getOrLoad("other", () => "from the database")).resolves.toBe(
        "from the database",
      );
      expect(resumed).toBe(0);
      await expect(written).resolves.toBe("new");
      expect(resumed).toBeGreaterThan(0);
      await expect(cache.get("k")).resolves.toBe("new");
    } finally {
      process.resume();
      await cache.close();
    }
  });
});

describe("with an ACL user allowed only redisCacheAclRules() on its prefix", () => {
  const redis = useSingleNode();

  test("every operation works, local tier included; other keys and channels are refused", async () => {
    const admin = new Redis(redis.current.url);
    const rules = redisCacheAclRules("acl-cache:").split(" ");
    await admin.acl("SETUSER", "cache", "reset", "on", ">cache-user-password", ...rules);
    const cache = createCache({
      redis: { url: redis.current.url, username: "cache", password: "cache-user-password" },
      prefix: "acl-cache:",
      local: { maxEntries: 10 },
    });
    await expect(cache.getOrLoad("k", () => 1, { tags: ["t"] })).resolves.toBe(1);
    await expect(cache.writeThrough("k", () => 2)).resolves.toBe(2);
    await cache.set("j", 3);
    await cache.invalidate(["k", "j"]);
    await cache.invalidateTag("t");
    for (let i = 0; i < 40 && !cache.subscribed; i++) await delay(50);
    expect(cache.subscribed).toBe(true);
    expect(cache.stats().errors).toBe(0);
    const limited = new Redis(redis.current.url, {
      username: "cache",
      password: "cache-user-password",
    });
    await expect(limited.get("other:key")).rejects.toThrow(/NOPERM/);
    await expect(limited.publish("other-channel", "x")).rejects.toThrow(/NOPERM/);
    await limited.quit();
    await cache.close();
    await admin.quit();
  });
});

/** A moment in a test's own code that another part waits for (`read` resolves once fired). */
function signal(): { fire: () => void; read: Promise<void> } {
  let fire: (() => void) | undefined;
  const read = new Promise<void>((resolve) => {
    fire = resolve;
  });
  return { fire: () => fire?.(), read };
}
