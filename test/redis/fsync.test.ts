import { describe, expect, test } from "vitest";
import { NotDurableError, RedisSessionStore } from "../../src/index.js";
import type { SessionData } from "express-session";
import { redisCommand } from "../../harness/redisCommand.js";
import { call } from "../support/call.js";
import { useSentinel, useSingleNode } from "../support/hooks.js";

// `durability.fsync`: a write is acknowledged once it is in the AOF on disk of its master and of
// the replicas it waits for (WAITAOF). Valkey 8 has WAITAOF; Redis 7.0 has not.
const session = () => JSON.parse('{"cookie":{"originalMaxAge":60000},"n":1}') as SessionData;
const valkey = useSentinel({ kind: "valkey" });
const redis = useSingleNode({ kind: "redis" });

describe("durability.fsync", () => {
  test("Valkey with Sentinel: acknowledged once the master's and both replicas' AOF have it", async () => {
    const store = new RedisSessionStore({
      redis: valkey.current.redisOption,
      durability: { fsync: true },
    });
    try {
      await call((done) => store.set("fsync-1", session(), done));
      expect(await call((done) => store.get("fsync-1", done))).toMatchObject({ n: 1 });
      // Every node's AOF has been fsynced up to the write (WAITAOF answered for all three).
      const master = await valkey.current.currentMaster();
      expect(await redisCommand(master.port, "WAITAOF", 1, 2, 1_000)).toEqual([1, 2]);
      expect(store.stats()).toMatchObject({ degraded: [], notDurable: 0 });
    } finally {
      await store.close();
    }
  });

  test("Redis 7.0 (no WAITAOF): refused, naming the option", async () => {
    const store = new RedisSessionStore({
      redis: redis.current.url,
      durability: { replicas: 1, fsync: true },
      unavailable: { waitMs: 1_000 },
    });
    try {
      const failed = await call((done) => store.set("fsync-2", session(), done)).catch(
        (error: unknown) => error,
      );
      expect(failed).toBeInstanceOf(NotDurableError);
      expect((failed as Error).message).toMatch(/`durability.fsync` needs WAITAOF/);
    } finally {
      await store.close();
    }
  });

  test("durability.fsync with replicas 0 is refused when the store is created", () => {
    expect(
      () =>
        new RedisSessionStore({
          redis: redis.current.url,
          durability: { replicas: 0, fsync: true },
        }),
    ).toThrow(/`durability.fsync` confirms writes with WAITAOF/);
  });
});
