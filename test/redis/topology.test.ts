import type { SessionData } from "express-session";
import { Cluster, Redis } from "ioredis";
import { describe, expect, test } from "vitest";
import { createRedisClient, RedisSessionStore } from "../../src/index.js";
import type { RedisTopology } from "../../src/index.js";
import { parseTopology } from "../../src/redis/options/topology.js";
import { useCluster, useSentinel, useSingleNode } from "../support/hooks.js";

const single = useSingleNode();
const sentinel = useSentinel({ replicas: 1, sentinels: 3 });
const cluster = useCluster();

describe("URL strings", () => {
  test("redis:// with credentials, port and database", () => {
    expect(parseTopology("redis://app%40x:p%3Ass@cache.internal:6380/2")).toEqual({
      kind: "single",
      options: { host: "cache.internal", port: 6380, username: "app@x", password: "p:ss", db: 2 },
    });
  });

  test("rediss:// turns TLS on and a bare host gets the default port", () => {
    expect(parseTopology("rediss://cache.internal")).toEqual({
      kind: "single",
      options: { host: "cache.internal", port: 6379, tls: { servername: "cache.internal" } },
    });
  });

  test("redis-sentinel:// lists Sentinels and names the master group", () => {
    expect(
      parseTopology("redis-sentinel://:secret@10.0.0.5:26379,10.0.0.6,[::1]:26380/mymaster"),
    ).toEqual({
      kind: "sentinel",
      options: {
        sentinels: [
          { host: "10.0.0.5", port: 26379 },
          { host: "10.0.0.6", port: 26379 },
          { host: "::1", port: 26380 },
        ],
        name: "mymaster",
        password: "secret",
      },
    });
  });
});

/** Stores and reads back one session through `topology`, and reports what Redis said to PING. */
async function roundTrip(
  topology: RedisTopology,
  durability?: { replicas: number },
): Promise<{ ping: unknown; user: unknown }> {
  const store = new RedisSessionStore({
    redis: topology,
    prefix: `rt${Math.random()}:`,
    durability,
  });
  const session = { cookie: { originalMaxAge: 60_000, path: "/" }, user: "alice" };
  await new Promise<void>((resolve, reject) => {
    store.set("sid-1", session, (error) => {
      if (error) reject(error instanceof Error ? error : new Error("set failed"));
      else resolve();
    });
  });
  const read = await new Promise<SessionData | null | undefined>((resolve, reject) => {
    store.get("sid-1", (error, value) => {
      if (error) reject(error instanceof Error ? error : new Error("get failed"));
      else resolve(value);
    });
  });
  const ping = await store.client.ping();
  const ids = await store.ids();
  await store.close();
  expect(ids).toEqual(["sid-1"]);
  return { ping, user: (read as { user?: unknown } | null)?.user };
}

describe("createRedisClient and the store reach Redis in every form", () => {
  test("a redis:// URL string", async () => {
    expect(await roundTrip(single.current.url)).toEqual({ ping: "PONG", user: "alice" });
  });

  test("{ url }", async () => {
    expect(await roundTrip({ url: single.current.url })).toEqual({ ping: "PONG", user: "alice" });
  });

  test("{ sentinels, name } reaches the master", async () => {
    const master = await sentinel.current.currentMaster();
    const client = createRedisClient(sentinel.current.redisOption) as Redis;
    const role = (await client.call("ROLE")) as unknown[];
    expect(role[0]).toBe("master");
    expect(await client.config("GET", "port")).toEqual(["port", String(master.port)]);
    await client.quit();
    expect(await roundTrip(sentinel.current.redisOption)).toEqual({ ping: "PONG", user: "alice" });
  });

  test("a redis-sentinel:// URL string", async () => {
    const hosts = sentinel.current.sentinels.map((node) => `127.0.0.1:${node.port}`).join(",");
    const url = `redis-sentinel://${hosts}/${sentinel.current.masterName}`;
    expect(await roundTrip(url)).toEqual({ ping: "PONG", user: "alice" });
  });

  test("{ cluster }, with ids() walking every master", async () => {
    const client = createRedisClient(cluster.current.redisOption) as Cluster;
    expect(client).toBeInstanceOf(Cluster);
    const store = new RedisSessionStore({ redis: client, prefix: "cl:" });
    const sids = Array.from({ length: 30 }, (_, i) => `sid-${i}`);
    await Promise.all(sids.map((sid) => client.hset(`cl:${sid}`, "cookie", "{}")));
    const keysPerMaster = await Promise.all(client.nodes("master").map((node) => node.dbsize()));
    expect(keysPerMaster.filter((count) => count > 0).length).toBe(3);
    expect((await store.ids()).sort()).toEqual([...sids].sort());
    await store.close();
    await client.quit();
    // This Cluster's shards have no replica: durable writes (1 replica per shard by default)
    // could not be confirmed.
    expect(await roundTrip(cluster.current.redisOption, { replicas: 0 })).toEqual({
      ping: "PONG",
      user: "alice",
    });
  });

  test("`options` passes other ioredis settings through, over the tuned ones", async () => {
    const client = createRedisClient({
      url: single.current.url,
      options: { connectionName: "checkout-app", retryStrategy: () => 42 },
    }) as Redis;
    expect(await client.client("GETNAME")).toBe("checkout-app");
    expect(client.options.retryStrategy?.(1)).toBe(42);
    expect(client.options.maxRetriesPerRequest).toBeNull();
    await client.quit();
  });

  test("an ioredis client is used as given and left open by close()", async () => {
    const client = new Redis(single.current.url);
    expect(createRedisClient(client)).toBe(client);
    expect(await roundTrip(client)).toEqual({ ping: "PONG", user: "alice" });
    expect(await client.ping()).toBe("PONG");
    await client.quit();
  });
});

test("createRedisClient rejects an invalid topology with a TypeError saying what is wrong", () => {
  expect(() => createRedisClient("127.0.0.1:6379")).toThrow(
    /`topology` must start with redis:\/\/, rediss:\/\/ or redis-sentinel:\/\/; got "127\.0\.0\.1:6379"/,
  );
  expect(() => createRedisClient({ sentinels: [{ host: "h", port: 1 }] } as never)).toThrow(
    /`topology\.name` must be the master group name Sentinel monitors/,
  );
});

describe("failover-tuned settings of the clients it creates", () => {
  test("Sentinel: the library's own +switch-master watch, 100 ms steps capped at 1 s, a silent Sentinel passed over after 1 s, no retry limit, READONLY reconnects", async () => {
    const client = createRedisClient(sentinel.current.redisOption) as Redis;
    const { options } = client;
    // SentinelWatch follows +switch-master (test/failover/reconnect.test.ts): not ioredis' detector.
    expect(options.failoverDetector).toBe(false);
    expect(options.sentinelCommandTimeout).toBe(1_000);
    expect(options.maxRetriesPerRequest).toBeNull();
    expect(options.enableAutoPipelining).toBe(true);
    expect([1, 2, 5, 10, 50].map((attempt) => options.retryStrategy?.(attempt))).toEqual([
      100, 200, 500, 1000, 1000,
    ]);
    expect([1, 3, 30].map((attempt) => options.sentinelRetryStrategy?.(attempt))).toEqual([
      100, 300, 1000,
    ]);
    expect(
      options.reconnectOnError?.(
        new Error("READONLY You can't write against a read only replica."),
      ),
    ).toBe(2);
    expect(options.reconnectOnError?.(new Error("ERR wrong number of arguments"))).toBe(false);
    expect(client.listenerCount("error")).toBeGreaterThan(0);
    await client.quit();
  });
});
