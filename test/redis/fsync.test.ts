import { describe, expect, test, vi } from "vitest";
import { NotDurableError, RedisSessionStore } from "../../src/index.js";
import type { SessionData } from "express-session";
import { volatileAof } from "../../harness/crash/volatileAof.js";
import { pollUntil } from "../../harness/poll.js";
import { redisCommand, redisInfo } from "../../harness/redisCommand.js";
import { countsBeforeFsync } from "../../src/redis/writes/MasterAof.js";
import { call } from "../support/call.js";
import { useSentinel, useSingleNode } from "../support/hooks.js";

// `durability.fsync`: a write is acknowledged once it is in the AOF on disk of its master and of
// the replicas it waits for (WAITAOF). Valkey 8 has WAITAOF, exact under `appendfsync always`
// only (under `everysec` it counts writes before their fsync: redis/redis#13793, shown by
// test/redis/crashShim.test.ts); Redis 7.0 has no WAITAOF. The Valkey nodes run with
// harness/crash's shim: a SIGKILL loses what they have not fsynced, as a machine crash would.
const session = () => JSON.parse('{"cookie":{"originalMaxAge":60000},"n":1}') as SessionData;
const valkey = useSentinel({
  kind: "valkey",
  serverConfig: ["appendfsync always"],
  preload: await volatileAof(),
});
const redis = useSingleNode({ kind: "redis" });

/**
 * Until the master's WAITAOF counts both replicas again: a replica restarted and resynced counts
 * only once it has rewritten its AOF, and until then an fsync-tier write waits for it (a test
 * after a restart saw "confirmed by 1 of 2 required replicas" instead of its own refusal).
 */
async function bothReplicasFsyncing(): Promise<void> {
  const topology = valkey.current;
  await topology.waitForSteadyState();
  const master = await topology.currentMaster();
  await pollUntil(
    "both replicas' AOF to count in WAITAOF",
    async () => ((await redisCommand(master.port, "WAITAOF", 1, 2, 100)) as number[])[1] === 2,
    { timeoutMs: 30_000, intervalMs: 100 },
  );
}

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

  test("Valkey under appendfsync everysec: refused naming `appendfsync always`, said once", async () => {
    const master = await valkey.current.currentMaster();
    await redisCommand(master.port, "CONFIG", "SET", "appendfsync", "everysec");
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const store = new RedisSessionStore({
      redis: valkey.current.redisOption,
      durability: { fsync: true },
      unavailable: { waitMs: 1_000 },
    });
    try {
      for (const id of ["fsync-3", "fsync-4"]) {
        const failed = await call((done) => store.set(id, session(), done)).catch(
          (error: unknown) => error,
        );
        expect(failed).toBeInstanceOf(NotDurableError);
        expect((failed as Error).message).toMatch(/`durability.fsync` needs `appendfsync always`/);
      }
      const said = warn.mock.calls.filter(([line]) => String(line).includes("appendfsync always"));
      expect(said).toHaveLength(1);
      expect(String(said[0]?.[0])).toMatch(/^redis-ha-session: .*writes are refused$/);
    } finally {
      warn.mockRestore();
      await store.close();
      await redisCommand(master.port, "CONFIG", "SET", "appendfsync", "always");
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

  test("which servers count a write in WAITAOF before its fsync under everysec", () => {
    // redis/redis#13793: fixed in Redis 8.0; every Valkey release to date has it.
    expect(countsBeforeFsync("# Server\r\nredis_version:7.4.2\r\n")).toBe(true);
    expect(countsBeforeFsync("# Server\r\nredis_version:8.0.0\r\n")).toBe(false);
    expect(
      countsBeforeFsync("redis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:9.1.2\r\n"),
    ).toBe(true);
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
  // These restart nodes: last, so that no test above runs against replicas still resyncing.
  test("the last replica lost: writes go on, degraded, and survive the master's crash", async () => {
    const topology = valkey.current;
    const master = await topology.currentMaster();
    const replicas = topology.servers.filter((server) => server !== master);
    const store = new RedisSessionStore({
      redis: topology.redisOption,
      durability: { fsync: true },
      unavailable: { waitMs: 5_000 },
    });
    try {
      await call((done) => store.set("fsync-before", session(), done));
      await Promise.all(replicas.map((replica) => replica.process.kill()));
      await pollUntil(
        "the master to see no replica",
        async () => (await redisInfo(master.port, "replication")).get("connected_slaves") === "0",
      );
      await call((done) => store.set("fsync-alone", session(), done));
      expect(store.stats()).toMatchObject({ degraded: [`127.0.0.1:${master.port}`] });
      // A crash of the master loses what it had not fsynced; what it acknowledged is back.
      await master.process.kill();
      await master.start();
      expect(await call((done) => store.get("fsync-alone", done))).toMatchObject({ n: 1 });
    } finally {
      await store.close();
      await Promise.all(replicas.map((replica) => replica.start()));
      await bothReplicasFsyncing();
    }
  });

  test("the default on `appendfsync no`: the last replica lost, writes go on, degraded", async () => {
    // Under `no` WAITAOF never answers for the master's own AOF: a degraded write is acknowledged
    // from its memory, as on a server without WAITAOF, not held until the wait bound.
    const topology = valkey.current;
    const master = await topology.currentMaster();
    const replicas = topology.servers.filter((server) => server !== master);
    const store = new RedisSessionStore({
      redis: topology.redisOption,
      unavailable: { waitMs: 3_000 },
    });
    await redisCommand(master.port, "CONFIG", "SET", "appendfsync", "no");
    try {
      await Promise.all(replicas.map((replica) => replica.process.kill()));
      await pollUntil(
        "the master to see no replica",
        async () => (await redisInfo(master.port, "replication")).get("connected_slaves") === "0",
      );
      await call((done) => store.set("no-fsync", session(), done));
      expect(store.stats()).toMatchObject({ degraded: [`127.0.0.1:${master.port}`] });
      expect(await call((done) => store.get("no-fsync", done))).toMatchObject({ n: 1 });
    } finally {
      await store.close();
      await redisCommand(master.port, "CONFIG", "SET", "appendfsync", "always");
      await Promise.all(replicas.map((replica) => replica.start()));
      await bothReplicasFsyncing();
    }
  });
});
