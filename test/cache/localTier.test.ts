import { setTimeout as delay } from "node:timers/promises";
import { afterAll, describe, expect, test } from "vitest";
import { Redis } from "ioredis";
import { createCache, healthCheck } from "../../src/index.js";
import { redisCommand } from "../../harness/redisCommand.js";
import type { CacheOptions, RedisCache, RedisTopology } from "../../src/index.js";
import { useCluster, useSingleNode } from "../support/hooks.js";

// The local tier of two caches on one prefix (two app instances), kept coherent over Redis
// Pub/Sub: on a single node, and on a 3-shard Cluster.
describe.each(["a single node", "a Cluster"] as const)("on %s", (topology) => {
  const single = topology === "a single node" ? useSingleNode() : undefined;
  const cluster =
    topology === "a Cluster" ? useCluster({ masters: 3, replicasPerMaster: 1 }) : undefined;
  const redisOption = (): RedisTopology =>
    single?.current.url ?? cluster?.current.redisOption ?? "";
  const caches: RedisCache[] = [];
  let prefixes = 0;
  afterAll(async () => {
    await Promise.all(caches.map((cache) => cache.close()));
  });

  /** Two caches with a local tier on one new prefix, subscribed (their pings came back). */
  async function pair(options: Partial<CacheOptions> = {}): Promise<[RedisCache, RedisCache]> {
    const prefix = `l${++prefixes}:`;
    const make = () =>
      createCache({ redis: redisOption(), prefix, local: { maxEntries: 100 }, ...options });
    const both: [RedisCache, RedisCache] = [make(), make()];
    caches.push(...both);
    await Promise.all(both.map((cache) => untilLive(cache)));
    return both;
  }

  async function untilLive(cache: RedisCache): Promise<void> {
    for (let i = 0; i < 100 && !cache.subscribed; i++) await delay(50);
    expect((await healthCheck(cache)).subscribed).toBe(true);
  }

  test("a value loaded or read once is served from the process: local hits, no Redis read", async () => {
    const [a, b] = await pair();
    await a.getOrLoad("k", () => "v");
    await expect(a.getOrLoad("k", () => "other")).resolves.toBe("v");
    expect(a.stats()).toMatchObject({ misses: 1, hits: 0, localHits: 1 });
    await expect(b.getOrLoad("k", () => "other")).resolves.toBe("v");
    await expect(b.getOrLoad("k", () => "other")).resolves.toBe("v");
    expect(b.stats()).toMatchObject({ misses: 0, hits: 1, localHits: 1 });
  });

  test("after a write-through returns on one instance, the other serves the old value for at most the message's delivery (200 rounds)", async () => {
    const [a, b] = await pair();
    const staleForMs: number[] = [];
    for (let round = 0; round < 200; round++) {
      await a.getOrLoad("price", () => round);
      await b.writeThrough("price", () => round + 1);
      const written = performance.now();
      while ((await a.getOrLoad("price", () => -1)) === round) await delay(0);
      staleForMs.push(performance.now() - written);
    }
    staleForMs.sort((x, y) => x - y);
    const max = staleForMs.at(-1) ?? 0;
    const p99 = staleForMs[Math.floor(staleForMs.length * 0.99)] ?? 0;
    console.log(
      `stale after a write elsewhere: max ${max.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`,
    );
    expect(a.stats().localHits).toBeGreaterThan(0);
    expect(max).toBeLessThan(500);
  });

  test("its subscriber connection killed while another instance writes: the missed change is never served once it is back", async () => {
    const [a, b] = await pair();
    await a.getOrLoad("stock", () => 5);
    await a.getOrLoad("stock", () => 5);
    expect(a.stats().localHits).toBe(1);
    if (single !== undefined) {
      // The subscriptions cut and, in the same transaction, what an invalidation elsewhere does
      // (bump the fence, delete, publish): its message certainly goes out while they are down.
      const admin = new Redis(single.current.url);
      const prefix = `l${prefixes}:`;
      await admin
        .multi()
        .call("CLIENT", "KILL", "TYPE", "pubsub")
        .incr(`${prefix}{stock}:f`)
        .del(`${prefix}{stock}`)
        .publish(`${prefix}events`, "istock")
        .exec();
      await admin.quit();
    } else {
      for (const server of cluster?.current.servers ?? []) {
        await redisCommand(server.port, "CLIENT", "KILL", "TYPE", "pubsub");
      }
      // The write's message goes out while the subscriptions are being re-established.
      await b.writeThrough("stock", () => 4);
    }
    await untilLive(a);
    let stale = 0;
    for (let i = 0; i < 50; i++) {
      if ((await a.getOrLoad("stock", () => 4)) !== 4) stale++;
      await delay(10);
    }
    expect(stale).toBe(0);
  });
});
