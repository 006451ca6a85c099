import { setTimeout as delay } from "node:timers/promises";
import type { SessionData } from "express-session";
import createDebug from "debug";
import type { Cluster, Redis } from "ioredis";
import { describe, expect, test } from "vitest";
import {
  RedisSessionStore,
  SessionStoreUnavailableError,
  SessionTooLargeError,
} from "../../../src/index.js";
import type { ServerProcess } from "../../../harness/ServerProcess.js";
import { call } from "../../support/call.js";

/** How the stores of one test file reach Redis (see the store.*.test.ts files). */
export interface StoreMode {
  /** A connection for looking at Redis: to the single node, or a Cluster client. */
  readonly client: Redis | Cluster;
  /** A store on its own prefix, so tests do not see each other's keys. */
  newStore(options?: Partial<ConstructorParameters<typeof RedisSessionStore>[0]>): {
    store: RedisSessionStore;
    prefix: string;
  };
  /** The process of the Redis server that holds `key`. */
  serverOf(key: string): Promise<ServerProcess>;
}

/** A cookie as express-session serialises it: maxAge, expires from now, and `settings`. */
export function cookieJson(
  maxAge: number,
  settings: Record<string, unknown>,
): Record<string, unknown> {
  return {
    originalMaxAge: maxAge,
    expires: new Date(Date.now() + maxAge).toISOString(),
    ...settings,
  };
}

export function sessionData(extra: Record<string, unknown> = {}, maxAge = 60_000): SessionData {
  const cookie = cookieJson(maxAge, { httpOnly: true, path: "/" });
  return { cookie, ...extra } as unknown as SessionData;
}

/** The express-session Store contract and the store's own promises, on `mode`'s Redis. */
export function contract(mode: StoreMode): void {
  describe("the express-session Store contract", () => {
    test("get of an unknown id gives no session", async () => {
      const { store } = mode.newStore();
      await expect(call((cb) => store.get("nope", cb))).resolves.toBeNull();
      await store.close();
    });

    test("set stores a hash with one JSON field per top-level key and the cookie's TTL", async () => {
      const { store, prefix } = mode.newStore();
      await call((cb) => store.set("abc", sessionData({ user: "alice", cart: ["tea"] }), cb));

      expect(await mode.client.type(`${prefix}abc`)).toBe("hash");
      const hash = await mode.client.hgetall(`${prefix}abc`);
      // `$touched`: when the TTL was last set, so reads know when it is due again.
      expect(Object.keys(hash).sort()).toEqual(["$touched", "cart", "cookie", "user"]);
      expect(JSON.parse(hash.user ?? "")).toBe("alice");
      expect(JSON.parse(hash.cart ?? "")).toEqual(["tea"]);
      const ttl = await mode.client.pttl(`${prefix}abc`);
      expect(ttl).toBeGreaterThan(55_000);
      expect(ttl).toBeLessThanOrEqual(60_000);

      const read = await call<SessionData | null>((cb) => store.get("abc", cb));
      expect(read).toMatchObject({
        user: "alice",
        cart: ["tea"],
        cookie: { originalMaxAge: 60_000 },
      });
      await store.close();
    });

    test("a typical session stays a compact listpack hash: its cookie is stored without expires and express-session's defaults", async () => {
      const { store, prefix } = mode.newStore();
      const cookie = cookieJson(86_400_000, {
        secure: false,
        httpOnly: true,
        path: "/",
        sameSite: "lax",
      });
      const data = { cookie, user: { id: "u1", name: "Ann" }, cart: ["sku-1", "sku-2", "sku-3"] };
      await call((cb) => store.set("abc", data as unknown as SessionData, cb));

      expect(await mode.client.object("ENCODING", `${prefix}abc`)).toBe("listpack");
      // A store of its own knows express-session's defaults only (redisSession's also leaves out
      // its own `sameSite`: see the middleware tests).
      expect(JSON.parse((await mode.client.hget(`${prefix}abc`, "cookie")) ?? "")).toEqual({
        originalMaxAge: 86_400_000,
        sameSite: "lax",
      });
      const read = await call<SessionData | null>((cb) => store.get("abc", cb));
      expect(read?.cookie).toMatchObject({
        originalMaxAge: 86_400_000,
        secure: false,
        httpOnly: true,
        path: "/",
        sameSite: "lax",
      });
      await store.close();
    });

    test("a large session keeps its fields over 64 bytes in one $pack field: fewer bytes than a field per key, read back whole", async () => {
      const { store, prefix } = mode.newStore();
      const data: Record<string, unknown> = { small: 1 };
      for (let k = 0; k < 12; k++) data[`field${k}`] = `${"x".repeat(160)}${k}`;
      await call((cb) => store.set("big", sessionData(data), cb));
      const hash = await mode.client.hgetall(`${prefix}big`);
      expect(Object.keys(hash).sort()).toEqual(["$pack", "$touched", "cookie", "small"]);
      const read = await call<SessionData | null>((cb) => store.get("big", cb));
      expect(read).toMatchObject(data);
      // The same session as earlier versions stored it, a field per key, reads the same: it costs
      // more memory.
      const { $pack: _pack, ...plain } = hash;
      for (const [field, value] of Object.entries(data)) plain[field] = JSON.stringify(value);
      await mode.client.hset(`${prefix}perKey`, plain);
      await expect(call((cb) => store.get("perKey", cb))).resolves.toMatchObject(data);
      const packed = Number(await mode.client.memory("USAGE", `${prefix}big`, "SAMPLES", 0));
      const perKey = Number(await mode.client.memory("USAGE", `${prefix}perKey`, "SAMPLES", 0));
      console.log(`MEMORY USAGE of a 12 × 170-byte session: ${packed} packed, ${perKey} per key`);
      expect(packed).toBeLessThan(perKey * 0.95);
      await store.close();
    });

    test("a cookie stored whole (by earlier versions) reads the same, and an unchanged session is not rewritten", async () => {
      const { store, prefix } = mode.newStore();
      const cookie = cookieJson(60_000, {
        secure: true,
        httpOnly: false,
        domain: "example.com",
        path: "/app",
        sameSite: "strict",
      });
      const whole = JSON.stringify(cookie);
      await mode.client.hset(`${prefix}old`, "cookie", whole, "user", '"alice"');
      await mode.client.pexpire(`${prefix}old`, 60_000);
      const read = await call<SessionData | null>((cb) => store.get("old", cb));
      const { expires: _expires, ...settings } = cookie;
      expect(read?.cookie).toMatchObject(settings);
      expect(read).toMatchObject({ user: "alice" });
      if (read === null) throw new Error("no session");
      await call((cb) => store.set("old", read, cb));
      expect(await mode.client.hget(`${prefix}old`, "cookie")).toBe(whole);
      await store.close();
    });

    test("a fixed ttl option wins over the cookie", async () => {
      const { store, prefix } = mode.newStore({ ttl: 30 });
      await call((cb) => store.set("abc", sessionData({}, 3_600_000), cb));
      const ttl = await mode.client.pttl(`${prefix}abc`);
      expect(ttl).toBeGreaterThan(25_000);
      expect(ttl).toBeLessThanOrEqual(30_000);
      await store.close();
    });

    test("a session without cookie maxAge lives a day", async () => {
      const { store, prefix } = mode.newStore();
      const data = sessionData();
      (data.cookie as unknown as Record<string, unknown>).originalMaxAge = null;
      await call((cb) => store.set("abc", data, cb));
      expect(await mode.client.pttl(`${prefix}abc`)).toBeGreaterThan(86_000_000);
      await store.close();
    });

    test("get leaves a TTL renewed less than touchAfter ago alone, and renews it after", async () => {
      const { store, prefix } = mode.newStore({ touchAfter: 1 });
      await call((cb) => store.set("abc", sessionData({}, 600_000), cb));
      await mode.client.pexpire(`${prefix}abc`, 5_000);
      await call((cb) => store.get("abc", cb));
      expect(await mode.client.pttl(`${prefix}abc`)).toBeLessThanOrEqual(5_000);
      await delay(1_050);
      await call((cb) => store.get("abc", cb));
      expect(await mode.client.pttl(`${prefix}abc`)).toBeGreaterThan(590_000);
      await store.close();
    });

    test("by default a read renews the TTL once 1 % of it has passed since the last renewal", async () => {
      const { store, prefix } = mode.newStore();
      await call((cb) => store.set("abc", sessionData({}, 100_000), cb));
      await mode.client.pexpire(`${prefix}abc`, 5_000);
      await delay(500);
      await call((cb) => store.get("abc", cb));
      expect(await mode.client.pttl(`${prefix}abc`)).toBeLessThanOrEqual(5_000);
      await delay(550);
      await call((cb) => store.get("abc", cb));
      expect(await mode.client.pttl(`${prefix}abc`)).toBeGreaterThan(95_000);
      await store.close();
    });

    test("touchAfter 0 renews the TTL on every read", async () => {
      const { store, prefix } = mode.newStore({ touchAfter: 0 });
      await call((cb) => store.set("abc", sessionData({}, 600_000), cb));
      await mode.client.pexpire(`${prefix}abc`, 5_000);
      await call((cb) => store.get("abc", cb));
      expect(await mode.client.pttl(`${prefix}abc`)).toBeGreaterThan(590_000);
      await store.close();
    });

    test("a session with no record of its last renewal is renewed by the next read", async () => {
      const { store, prefix } = mode.newStore();
      await call((cb) => store.set("abc", sessionData({}, 600_000), cb));
      await mode.client.hdel(`${prefix}abc`, "$touched");
      await mode.client.pexpire(`${prefix}abc`, 5_000);
      await call((cb) => store.get("abc", cb));
      expect(await mode.client.pttl(`${prefix}abc`)).toBeGreaterThan(590_000);
      expect(await mode.client.hexists(`${prefix}abc`, "$touched")).toBe(1);
      await store.close();
    });

    test("touch renews the TTL and never creates a session", async () => {
      const { store, prefix } = mode.newStore();
      await call((cb) => store.set("abc", sessionData({}, 600_000), cb));
      await mode.client.pexpire(`${prefix}abc`, 5_000);
      await call((cb) => store.touch("abc", sessionData({}, 600_000), cb));
      expect(await mode.client.pttl(`${prefix}abc`)).toBeGreaterThan(590_000);

      await call((cb) => store.touch("gone", sessionData(), cb));
      expect(await mode.client.exists(`${prefix}gone`)).toBe(0);
      await store.close();
    });

    test("a write that reaches Redis after its request gave up is dropped, not applied late", async () => {
      // Unconfirmed writes (on the Cluster too): the write and the read after it share the
      // mode.client's connection, so the read answers only once the thawed server ran the write.
      const { store, prefix } = mode.newStore({
        unavailable: { waitMs: 300 },
        durability: { replicas: 0 },
      });
      await call((cb) => store.set("late", sessionData({ step: 1 }), cb));
      const server = await mode.serverOf(`${prefix}late`);
      server.pause();
      try {
        const failed = await call((cb) => store.set("late", sessionData({ step: 2 }), cb)).then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(failed).toBeInstanceOf(SessionStoreUnavailableError);
      } finally {
        server.resume();
      }
      // The thawed server now reads the write sent to it before; a read behind it on the same
      // connection answers once it has run.
      expect(await store.client.hget(`${prefix}late`, "step")).toBe("1");
      await store.close();
    });

    test('a stored field named "__proto__" is read as a plain key, not as the prototype', async () => {
      const { store, prefix } = mode.newStore();
      await call((cb) => store.set("proto", sessionData({ user: "alice" }), cb));
      await mode.client.hset(`${prefix}proto`, "__proto__", JSON.stringify({ isAdmin: true }));
      const read = await call<Record<string, unknown> | null>((cb) => store.get("proto", cb));
      expect(Object.getPrototypeOf(read)).toBe(Object.prototype);
      expect(read?.isAdmin).toBeUndefined();
      expect(Object.getOwnPropertyDescriptor(read, "__proto__")?.value).toEqual({ isAdmin: true });
      await store.close();
    });

    test("set replaces the whole session when used directly", async () => {
      const { store, prefix } = mode.newStore();
      await call((cb) => store.set("abc", sessionData({ a: 1, b: 2 }), cb));
      await call((cb) => store.set("abc", sessionData({ a: 3 }), cb));
      expect(Object.keys(await mode.client.hgetall(`${prefix}abc`)).sort()).toEqual([
        "$touched",
        "a",
        "cookie",
      ]);
      await store.close();
    });

    test("destroy deletes the session", async () => {
      const { store, prefix } = mode.newStore();
      await call((cb) => store.set("abc", sessionData({ user: "alice" }), cb));
      await call((cb) => store.destroy("abc", cb));
      expect(await mode.client.exists(`${prefix}abc`)).toBe(0);
      await expect(call((cb) => store.get("abc", cb))).resolves.toBeNull();
      await store.close();
    });

    test("all, ids, length and clear cover exactly the store's prefix", async () => {
      const { store, prefix } = mode.newStore({ prefix: "glob*[x]:" });
      const { store: other } = mode.newStore();
      await call((cb) => other.set("foreign", sessionData({ user: "mallory" }), cb));
      await mode.client.set("glob-unrelated", "x");
      for (const sid of ["s1", "s2", "s3"]) {
        await call((cb) => store.set(sid, sessionData({ user: sid }), cb));
      }
      await mode.client.pexpire(`${prefix}s1`, 5_000);

      expect((await store.ids()).sort()).toEqual(["s1", "s2", "s3"]);
      await expect(call((cb) => store.length(cb))).resolves.toBe(3);
      const all = await call<Record<string, SessionData>>((cb) => store.all(cb));
      expect(Object.keys(all).sort()).toEqual(["s1", "s2", "s3"]);
      expect(all.s2).toMatchObject({ user: "s2" });
      // all() reads without renewing
      expect(await mode.client.pttl(`${prefix}s1`)).toBeLessThanOrEqual(5_000);

      await call((cb) => store.clear(cb));
      await expect(call((cb) => store.length(cb))).resolves.toBe(0);
      await expect(call((cb) => other.length(cb))).resolves.toBe(1);
      expect(await mode.client.get("glob-unrelated")).toBe("x");
      await store.close();
      await other.close();
    });

    test("without a callback every method returns a promise (connect-redis 8+'s convention); with one, nothing", async () => {
      const { store, prefix } = mode.newStore();
      await expect(store.set("p1", sessionData({ user: "alice" }))).resolves.toBeUndefined();
      expect(await store.get("p1")).toMatchObject({ user: "alice" });
      await mode.client.pexpire(`${prefix}p1`, 5_000);
      await expect(store.touch("p1", sessionData({ user: "alice" }))).resolves.toBeUndefined();
      expect(await mode.client.pttl(`${prefix}p1`)).toBeGreaterThan(5_000);
      await store.set("p2", sessionData({ user: "bob" }));
      await expect(store.length()).resolves.toBe(2);
      expect(Object.keys(await store.all()).sort()).toEqual(["p1", "p2"]);
      await expect(store.destroy("p1")).resolves.toBeUndefined();
      await expect(store.get("p1")).resolves.toBeNull();
      await expect(store.clear()).resolves.toBeUndefined();
      await expect(store.length()).resolves.toBe(0);
      // The callback form answers through the callback alone.
      const getWithCallback = store.get.bind(store) as (sid: string, done: () => void) => unknown;
      expect(getWithCallback("p2", () => undefined)).toBeUndefined();
      await store.close();
    });
  });

  describe("data the store did not write", () => {
    test("a connect-redis JSON string is read as the session", async () => {
      const { store, prefix } = mode.newStore();
      const legacy = { cookie: sessionData().cookie, user: "alice", cart: ["tea"] };
      await mode.client.set(`${prefix}old`, JSON.stringify(legacy), "PX", 5_000);
      const read = await call<SessionData | null>((cb) => store.get("old", cb));
      expect(read).toMatchObject({ user: "alice", cart: ["tea"] });
      expect(await mode.client.pttl(`${prefix}old`)).toBeGreaterThan(55_000);
      await store.close();
    });

    test.each([
      [
        "a hash field that is not JSON",
        (key: string) => mode.client.hset(key, "cookie", "{}", "user", "{oops"),
      ],
      ["a hash without a cookie", (key: string) => mode.client.hset(key, "user", '"alice"')],
      [
        "a $pack cut short",
        (key: string) => mode.client.hset(key, "cookie", "{}", "$pack", 'user\n"alice"\ncart\n["t'),
      ],
      ["a string that is not JSON", (key: string) => mode.client.set(key, "garbage\u0000\u00ff")],
      ["a JSON string that is not an object", (key: string) => mode.client.set(key, "[1,2]")],
      ["a list", (key: string) => mode.client.rpush(key, "a", "b")],
      ["a set", (key: string) => mode.client.sadd(key, "a")],
    ])("%s is no session, not an error", async (_what, write) => {
      const { store, prefix } = mode.newStore();
      await write(`${prefix}bad`);
      await expect(call((cb) => store.get("bad", cb))).resolves.toBeNull();
      await expect(call((cb) => store.all(cb))).resolves.toEqual({});
      await store.close();
    });
  });

  describe("logging", () => {
    test("a corrupt key is reported once, by a hash of the key, never by session id", async () => {
      const lines: string[] = [];
      const previousLog = createDebug.log;
      createDebug.enable("redis-ha-session:*");
      createDebug.log = (...args: unknown[]) => lines.push(args.map(String).join(" "));
      try {
        const { store, prefix } = mode.newStore();
        const sid = "secret-session-id-123";
        await mode.client.hset(`${prefix}${sid}`, "cookie", "{not json");
        for (let i = 0; i < 3; i++)
          await expect(call((cb) => store.get(sid, cb))).resolves.toBeNull();
        // Each read of it is counted; the log says it once.
        expect(store.stats().corrupt).toBe(3);
        await store.close();
      } finally {
        createDebug.disable();
        createDebug.log = previousLog;
      }
      const reports = lines.filter((line) => line.includes("corrupt session data"));
      expect(reports).toHaveLength(1);
      expect(reports[0]).toMatch(/#[0-9a-f]{12}.*field "cookie" is not valid JSON/);
      expect(lines.join("\n")).not.toContain("secret-session-id-123");
    });
  });

  describe("reserved keys", () => {
    test("a session key starting with $ is refused: the store keeps its own fields there", async () => {
      const { store, prefix } = mode.newStore();
      await expect(
        call((cb) => store.set("s", sessionData({ $uid: "mallory" }), cb)),
      ).rejects.toThrow(/session key "\$uid" starts with "\$"/);
      expect(await mode.client.exists(`${prefix}s`)).toBe(0);
      await store.close();
    });
  });

  describe("maxBytes", () => {
    test("a session over the limit is refused with SessionTooLargeError and nothing is written", async () => {
      const { store, prefix } = mode.newStore({ maxBytes: 1_000 });
      const error = await call((cb) =>
        store.set("big", sessionData({ blob: "x".repeat(1_000) }), cb),
      ).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(SessionTooLargeError);
      expect((error as Error).message).toMatch(/maxBytes/);
      expect(await mode.client.exists(`${prefix}big`)).toBe(0);

      await call((cb) => store.set("small", sessionData({ note: "x".repeat(100) }), cb));
      expect(await mode.client.exists(`${prefix}small`)).toBe(1);
      await store.close();
    });
  });
}
