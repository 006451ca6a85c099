import type { SessionData } from "express-session";
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  healthCheck,
  NotDurableError,
  RedisSessionStore,
  SessionStoreUnavailableError,
} from "../../src/index.js";
import { freePort } from "../../harness/ports.js";
import { keySlot } from "../../src/redis/cluster/keySlot.js";
import { createTestApp } from "../../harness/app/testApp.js";
import { agentOn, sessionIdOf } from "../support/agent.js";
import { useCluster } from "../support/hooks.js";
import { call } from "../support/call.js";

// Sessions on a 3-shard Cluster (a master and a replica each): the per-user index beside a user's
// sessions in one slot, the store's walks over every master, durable writes confirmed on the
// shard that owns them.
const cluster = useCluster({ masters: 3, replicasPerMaster: 1 });
let client: Cluster;

beforeAll(() => {
  client = new Cluster(cluster.current.redisOption.cluster);
  // Connection errors while the stack stops, after the tests.
  client.on("error", () => undefined);
});
afterAll(async () => {
  await client.quit();
});

describe("sessions on a Redis Cluster", () => {
  test("login, sessionsOf and logoutEverywhere, with a user's sessions and index in one slot", async () => {
    const { app, sessions } = createTestApp({ redis: cluster.current.redisOption, prefix: "h1:" });
    try {
      const devices = [agentOn(app), agentOn(app), agentOn(app)];
      for (const device of devices) {
        await device.post("/cart").send({ item: "tea" });
        const response = await device.post("/auth/login").send({ user: "alice" });
        expect(response.status).toBe(200);
      }
      const ids = devices.map((device) => sessionIdOf(device) ?? "");
      const slots = new Set(ids.map((id) => keySlot(`h1:${id}`)));
      expect(slots.size).toBe(1);
      const [slot] = slots;
      const indexKey = (await keysOnMasters("h1:*user:alice")).at(0) ?? "";
      expect(keySlot(indexKey)).toBe(slot);
      expect((await client.smembers(indexKey)).sort()).toEqual([...ids].sort());
      // The tag is not the user id.
      expect(ids[0]).not.toContain("alice");

      const listed = await devices[0]?.get("/auth/sessions/alice");
      expect(
        (listed?.body as { sessions: { id: string }[] }).sessions.map(({ id }) => id).sort(),
      ).toEqual([...ids].sort());
      const ended = await devices[1]?.post("/auth/logout-all");
      expect(ended?.body).toMatchObject({ ended: 3 });
      for (const device of devices) {
        expect((await device.get("/me")).body).toMatchObject({ user: null });
      }
      expect(await client.exists(indexKey)).toBe(0);
    } finally {
      await sessions.store.close();
    }
  });

  test("1 000 users × 3 sessions: each user's sessions and index in one slot, keys spread evenly, length and clear exact", async () => {
    const prefix = "h3:";
    // A fixed tag key, so the spread over the masters is the same every run (with a random one,
    // 1 000 users land within ±10 % of a third on every master about 93 runs in 100).
    await client.hset(`${prefix}user-tag-key`, "key", "fixed-key-for-a-repeatable-spread");
    const { app, sessions } = createTestApp({ redis: cluster.current.redisOption, prefix });
    try {
      const users = Array.from({ length: 1_000 }, (_, i) => `user-${i + 1}`);
      const idsOf = new Map<string, string[]>();
      for (let start = 0; start < users.length; start += 50) {
        await Promise.all(
          users.slice(start, start + 50).map(async (user) => {
            const ids: string[] = [];
            for (let device = 0; device < 3; device++) {
              const agent = agentOn(app);
              expect((await agent.post("/auth/login").send({ user })).status).toBe(200);
              ids.push(sessionIdOf(agent) ?? "");
            }
            idsOf.set(user, ids);
          }),
        );
      }
      for (const [user, ids] of idsOf) {
        const slots = new Set(ids.map((id) => keySlot(prefix + id)));
        expect(slots.size).toBe(1);
        const [index] = await keysOnMasters(`${prefix}*user:${user}`);
        expect(keySlot(index ?? "")).toBe([...slots][0]);
        expect((await client.smembers(index ?? "")).sort()).toEqual([...ids].sort());
      }
      // 3 000 sessions, 1 000 indexes and the tag key.
      const perMaster = await Promise.all(
        client.nodes("master").map(async (node) => (await node.keys(`${prefix}*`)).length),
      );
      expect(perMaster.reduce((sum, count) => sum + count, 0)).toBe(4_001);
      for (const count of perMaster) {
        expect(Math.abs(count - 4_001 / 3)).toBeLessThanOrEqual((4_001 / 3) * 0.1);
      }
      expect(await call<number>((done) => sessions.store.length(done))).toBe(3_000);
      await call((done) => sessions.store.clear(done));
      expect(await call<number>((done) => sessions.store.length(done))).toBe(0);
      expect(await keysOnMasters(`${prefix}*`)).toEqual([`${prefix}user-tag-key`]);
    } finally {
      await sessions.store.close();
    }
  });

  test("200 logins racing a logoutEverywhere of the same user: no live session of a user is missing from the index", async () => {
    const prefix = "h4:";
    const { app, sessions } = createTestApp({ redis: cluster.current.redisOption, prefix });
    try {
      // The first 20 are not left to the race: the second login comes after the logout, so at
      // least 20 sessions must be found live (and in their index) below.
      const ordered = 20;
      await Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          const user = `racer-${i}`;
          const first = agentOn(app);
          await first.post("/auth/login").send({ user });
          const second = agentOn(app);
          const login = () => second.post("/auth/login").send({ user });
          const logoutAll = () => first.post("/auth/logout-all");
          if (i < ordered) {
            expect((await logoutAll()).status).toBe(200);
            expect((await login()).status).toBe(200);
            return;
          }
          const [loggedIn, loggedOut] = await Promise.all([login(), logoutAll()]);
          expect(loggedIn.status).toBe(200);
          expect(loggedOut.status).toBe(200);
        }),
      );
      let live = 0;
      for (const key of await keysOnMasters(`${prefix}*`)) {
        const sid = key.slice(prefix.length);
        if (sid.includes("user:") || sid === "user-tag-key") continue;
        const uid = await client.hget(key, "$uid");
        if (uid === null) continue;
        live++;
        const [index] = await keysOnMasters(`${prefix}*user:${uid}`);
        expect(await client.sismember(index ?? "", sid)).toBe(1);
      }
      // Every race leaves the second login's session (when the logout ran first) or none.
      console.log(`${live} of 200 second logins outlived the logoutEverywhere they raced`);
      expect(live).toBeGreaterThanOrEqual(ordered);
      expect(live).toBeLessThanOrEqual(200);
    } finally {
      await sessions.store.close();
    }
  });

  test("a write is one script and one WAIT on the shard's master, confirmed by its replica; a read one HGETALL", async () => {
    const store = new RedisSessionStore({ redis: cluster.current.redisOption, prefix: "h2:" });
    const session = (cart: string[]) => ({ cookie: { originalMaxAge: 60_000 }, cart }) as never;
    try {
      // The first write opens the writer connections and measures the master's clock; the first
      // read opens the client's connection to that master.
      await call((done) => store.set("s1", session(["tea"]), done));
      await call((done) => store.get("s1", done));
      const commands = await monitored(async () => {
        await call((done) => store.set("s1", session(["tea", "milk"]), done));
        await call((done) => store.get("s1", done));
      });
      const master = await cluster.current.masterOf(keySlot("h2:s1"));
      expect(commands).toEqual([
        { port: master.port, command: "evalsha" },
        { port: master.port, command: "wait" },
        { port: master.port, command: "hgetall" },
      ]);
      const [replica] = await cluster.current.replicasOf(master);
      const onReplica = new Redis(replica?.port ?? 0, "127.0.0.1");
      onReplica.on("error", () => undefined);
      try {
        await onReplica.call("READONLY");
        expect(await onReplica.hget("h2:s1", "cart")).toBe('["tea","milk"]');
      } finally {
        onReplica.disconnect();
      }
    } finally {
      await store.close();
    }
  });
});

test("the health check reports every shard's master and its replicas", async () => {
  const store = new RedisSessionStore({ redis: cluster.current.redisOption, prefix: "h6:" });
  try {
    await store.client.ping();
    const report = await healthCheck(store);
    const masters = await cluster.current.masters();
    expect(report).toMatchObject({
      status: "ok",
      topology: "cluster",
      replicas: 1,
      requiredReplicas: 1,
    });
    expect(report.shards?.map(({ master }) => master).sort()).toEqual(
      masters.map(({ port }) => `127.0.0.1:${port}`).sort(),
    );
    expect(report.shards?.every(({ replicas }) => replicas === 1)).toBe(true);
  } finally {
    await store.close();
  }
});

describe("bad input on a Cluster", () => {
  test("a seed list none of which answers: the request fails within the wait bound, naming the nodes tried", async () => {
    const ports = [await freePort(), await freePort()];
    const store = new RedisSessionStore({
      redis: { cluster: ports.map((port) => ({ host: "127.0.0.1", port })) },
      unavailable: { waitMs: 1_000 },
    });
    try {
      const started = Date.now();
      const failed = await call((done) => store.get("s1", done)).catch((error: unknown) => error);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(failed).toBeInstanceOf(SessionStoreUnavailableError);
      expect((failed as Error).message).toContain(
        `no node of the Cluster answered (tried 127.0.0.1:${ports[0]}, 127.0.0.1:${ports[1]})`,
      );
    } finally {
      await store.close();
    }
  });

  test("durability asking for more replicas than a shard has: degraded by default, refused with whenFewer: refuse, saying so", async () => {
    const degraded = new RedisSessionStore({
      redis: cluster.current.redisOption,
      prefix: "h5:",
      durability: { replicas: 2 },
      unavailable: { waitMs: 1_000 },
    });
    try {
      const data = JSON.parse('{"cookie":{"originalMaxAge":60000}}') as SessionData;
      await call((done) => degraded.set("s1", data, done));
      expect(degraded.stats()).toMatchObject({ degradations: 1 });
      expect(degraded.stats().degraded).toHaveLength(1);
    } finally {
      await degraded.close();
    }
    const store = new RedisSessionStore({
      redis: cluster.current.redisOption,
      prefix: "h5:",
      durability: { replicas: 2, whenFewer: "refuse" },
      unavailable: { waitMs: 1_000 },
    });
    const data = JSON.parse('{"cookie":{"originalMaxAge":60000}}') as SessionData;
    try {
      const failed = await call((done) => store.set("s1", data, done)).catch(
        (error: unknown) => error,
      );
      expect(failed).toBeInstanceOf(NotDurableError);
      expect((failed as Error).message).toMatch(
        /`durability\.replicas` asks for 2, but the shard of this key has 1 replica/,
      );
    } finally {
      await store.close();
    }
  });
});

/** Every key matching `pattern` on every master. */
async function keysOnMasters(pattern: string): Promise<string[]> {
  const found = await Promise.all(client.nodes("master").map((node) => node.keys(pattern)));
  return found.flat();
}

/**
 * The commands clients sent to any node while `act` ran: not those a script ran, nor a replica's
 * replication stream, nor the slot-map refreshes.
 */
async function monitored(act: () => Promise<void>): Promise<{ port: number; command: string }[]> {
  const seen: { port: number; command: string }[] = [];
  const monitors = await Promise.all(
    cluster.current.servers.map(async (server) => {
      const node = new Redis(server.port, "127.0.0.1");
      node.on("error", () => undefined);
      // A replica's link to its master, whose commands MONITOR shows too.
      const link = /addr=(\S+)/.exec(
        String(await node.call("CLIENT", "LIST", "TYPE", "master")),
      )?.[1];
      // monitor() opens a connection of its own: `node` is closed once it is there.
      const monitor = await node.monitor();
      node.disconnect();
      monitor.on("error", () => undefined);
      monitor.on("monitor", (_time: string, args: string[], source: string) => {
        const command = String(args[0]).toLowerCase();
        if (source === "lua" || source === link || command === "cluster") return;
        seen.push({ port: server.port, command });
      });
      return monitor;
    }),
  );
  try {
    await act();
    // MONITOR lines arrive just after the replies.
    await new Promise((resolve) => setTimeout(resolve, 200));
  } finally {
    for (const monitor of monitors) monitor.disconnect();
  }
  return seen;
}
