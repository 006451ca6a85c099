import type { SessionData } from "express-session";
import { Redis } from "ioredis";
import { describe, expect, test } from "vitest";
import { createTestApp } from "../../harness/app/testApp.js";
import { pollUntil } from "../../harness/poll.js";
import { freePort } from "../../harness/ports.js";
import {
  RedisSessionStore,
  RedisUnavailableError,
  createCache,
  healthCheck,
} from "../../src/index.js";
import { agentOn } from "../support/agent.js";
import { useSingleNode } from "../support/hooks.js";
import { call } from "../support/call.js";
import { useWarnings } from "../support/warnings.js";

// What a new user gets wrong in `redis` or `durability` is said at once, once, without DEBUG
// (one console.warn line each), answered as what it is (503, never a 500 or a silent fallback)
// and named by healthCheck.

const redis = useSingleNode();

/** Every line the library warned with during the test. */
const warned = useWarnings();

/** The lines matching `pattern`, once at least one does. */
function saidOnce(pattern: RegExp): Promise<string[]> {
  return pollUntil(
    `a warning matching ${String(pattern)}`,
    () => {
      const lines = warned().filter((line) => pattern.test(line));
      return lines.length > 0 ? lines : undefined;
    },
    { timeoutMs: 5_000 },
  );
}

function session(data: Record<string, unknown> = {}): SessionData {
  const cookie = { originalMaxAge: 60_000 } as unknown as SessionData["cookie"];
  return { cookie, ...data };
}

describe("a database the server does not have", () => {
  test("refused, not run in database 0: 503, nothing written, said once naming the database and the server's 16", async () => {
    const admin = new Redis(redis.current.url);
    await admin.flushall();
    const { app, sessions } = createTestApp({ redis: `${redis.current.url}/20` });
    const cache = createCache({ redis: `${redis.current.url}/20` });
    try {
      const [line] = await saidOnce(/database 20/);
      expect(line).toMatch(/database 20 .* does not exist on the server, which has 16 \(0 to 15\)/);
      for (let i = 0; i < 3; i++) {
        const login = await agentOn(app).post("/login").send({ user: "alice" });
        expect(login.status).toBe(503);
      }
      await expect(cache.getOrLoad("k", () => "from the database")).resolves.toBe(
        "from the database",
      );
      await expect(cache.set("k", 1)).rejects.toThrow(RedisUnavailableError);
      await expect(cache.set("k", 1)).rejects.toThrow(/database 20/);
      expect(await admin.dbsize()).toBe(0);
      const health = await healthCheck(sessions.store);
      expect(health.status).toBe("unavailable");
      expect(health.error).toMatch(/database 20/);
      // One line for the store's connection and one for the cache's, however many requests.
      expect(warned().filter((text) => text.includes("database 20"))).toHaveLength(2);
    } finally {
      await sessions.store.close();
      await cache.close();
      await admin.quit();
    }
  });
});

describe("Redis unreachable at start", () => {
  const at = (port: number) => ({ host: "127.0.0.1", port });
  test.each([
    {
      what: "a refused port",
      redis: async () => `redis://127.0.0.1:${await freePort()}`,
      cause: /ECONNREFUSED/,
    },
    {
      what: "an unknown host",
      redis: () => Promise.resolve("redis://no-such-host.invalid:6379"),
      cause: /ENOTFOUND|EAI_AGAIN/,
    },
    {
      what: "Sentinels that refuse",
      redis: async () => ({ sentinels: [at(await freePort())], name: "mymaster" }),
      cause: /All sentinels are unreachable/,
    },
    {
      what: "Cluster seeds that refuse",
      redis: async () => ({ cluster: [at(await freePort())] }),
      cause: /Failed to refresh slots cache|no node of the Cluster answered/,
    },
  ])(
    "$what: said once within a second, naming the address and the cause; healthCheck too",
    async ({ redis: topology, cause }) => {
      const redisOption = await topology();
      const text = JSON.stringify(redisOption);
      const port = /127\.0\.0\.1:(\d+)|"port":(\d+)/.exec(text);
      const started = Date.now();
      const store = new RedisSessionStore({ redis: redisOption, unavailable: { waitMs: 300 } });
      try {
        const [line] = await saidOnce(/cannot reach Redis/);
        expect(Date.now() - started).toBeLessThan(1_000);
        expect(line).toContain(port?.[1] ?? port?.[2] ?? "no-such-host.invalid:6379");
        expect(line).toMatch(cause);
        const health = await healthCheck(store, { timeoutMs: 300 });
        expect(health.status).toBe("unavailable");
        expect(health.error).toMatch(/within 300 ms \(the health check's `timeoutMs`\)/);
        // ioredis retried meanwhile, every time with the same error: still one line.
        expect(warned()).toHaveLength(1);
        // A request's error names the cause too, not only the wait.
        const read = await new Promise((resolve) => {
          store.get("s", (error) => {
            resolve(error);
          });
        });
        expect(read).toBeInstanceOf(RedisUnavailableError);
        expect(String(read)).toMatch(/within 300 ms \(option `unavailable.waitMs`\)/);
        expect(String(read)).toMatch(cause);
        // Without a callback, the promise rejects with the same error.
        await expect(store.length()).rejects.toBeInstanceOf(RedisUnavailableError);
      } finally {
        await store.close();
      }
    },
  );
});

describe("a wrong password", () => {
  test("said once at start; requests answer 503 at once, not 500; healthCheck names WRONGPASS", async () => {
    const admin = new Redis(redis.current.url);
    await admin.acl("SETUSER", "app", "reset", "on", ">right-password", "~*", "&*", "+@all");
    const { app, sessions } = createTestApp({
      redis: { url: redis.current.url, username: "app", password: "wrong-password" },
    });
    try {
      const [line] = await saidOnce(/WRONGPASS/);
      expect(line).toContain(redis.current.url);
      for (let i = 0; i < 3; i++) {
        const started = Date.now();
        const login = await agentOn(app).post("/login").send({ user: "alice" });
        expect(login.status).toBe(503);
        // Not after `unavailable.waitMs` (10 s): no wait cures a wrong password.
        expect(Date.now() - started).toBeLessThan(2_000);
      }
      const health = await healthCheck(sessions.store);
      expect(health.status).toBe("unavailable");
      expect(health.error).toMatch(/WRONGPASS/);
      expect(warned().filter((text) => text.includes("WRONGPASS"))).toHaveLength(1);
    } finally {
      await sessions.store.close();
      await admin.acl("DELUSER", "app");
      await admin.quit();
    }
  });
});

describe("durability.replicas larger than the topology has, whenFewer: refuse", () => {
  test("said once as soon as connected, for the store and for the cache", async () => {
    const store = new RedisSessionStore({
      redis: redis.current.url,
      durability: { replicas: 2, whenFewer: "refuse" },
    });
    const cache = createCache({
      redis: redis.current.url,
      durability: { replicas: 1, whenFewer: "refuse" },
    });
    try {
      const [line] = await saidOnce(/`durability.replicas` is 2/);
      expect(line).toContain(`the master at ${redis.current.url} has 0 replicas in sync`);
      expect(line).toMatch(/every session write .* answers 503/);
      const [cacheLine] = await saidOnce(/`durability.replicas` is 1/);
      expect(cacheLine).toMatch(/every change .* fails after `unavailable.changeWaitMs`/);
    } finally {
      await store.close();
      await cache.close();
    }
  });
});

describe("Redis frozen", () => {
  /** Runs `act` with the node frozen; resumed whatever happens. */
  async function frozen<T>(act: () => Promise<T>): Promise<T> {
    const { process } = redis.current.server;
    process.pause();
    try {
      return await act();
    } finally {
      process.resume();
    }
  }

  /** How long `operation` took to reject, and with what. */
  async function rejection(
    operation: () => Promise<unknown>,
  ): Promise<{ ms: number; error: unknown }> {
    const started = Date.now();
    const error = await operation().then(
      () => new Error("it resolved"),
      (reason: unknown) => reason,
    );
    return { ms: Date.now() - started, error };
  }

  test("every store method and session helper rejects with RedisUnavailableError within unavailable.waitMs", async () => {
    const waitMs = 1_000;
    const { app, sessions } = createTestApp({ redis: redis.current.url, unavailable: { waitMs } });
    const { store } = sessions;
    const user = agentOn(app);
    expect((await user.post("/auth/login").send({ user: "frozen-user" })).status).toBe(200);
    await call((done) => store.set("s1", session({ a: 1 }), done));
    const operations: Record<string, () => Promise<unknown>> = {
      sessionsOf: () => store.sessionsOf("frozen-user"),
      "logoutEverywhere(userId)": () => store.destroyUserSessions("frozen-user"),
      get: () => call((done) => store.get("s1", done)),
      set: () => call((done) => store.set("s1", session({ a: 2 }), done)),
      touch: () => call((done) => store.touch("s2", session(), done)),
      destroy: () => call((done) => store.destroy("s1", done)),
      all: () => call((done) => store.all(done)),
      length: () => call((done) => store.length(done)),
      ids: () => store.ids(),
      clear: () => call((done) => store.clear(done)),
    };
    const seen = await frozen(async () => {
      const results: Record<string, { ms: number; error: unknown }> = {};
      await Promise.all(
        Object.entries(operations).map(async ([name, operation]) => {
          results[name] = await rejection(operation);
        }),
      );
      // The helpers in a route: each request within its bound, answered 503.
      for (const route of ["/auth/login", "/auth/logout", "/auth/logout-all"]) {
        results[route] = await rejection(async () => {
          const response = await user.post(route).send({ user: "frozen-user" });
          throw new Error(`answered ${response.status}`);
        });
      }
      return results;
    });
    console.log(
      Object.entries(seen)
        .map(([name, { ms }]) => `${name} ${ms} ms`)
        .join(", "),
    );
    for (const [name, { ms, error }] of Object.entries(seen)) {
      if (name.startsWith("/"))
        expect({ name, error: String(error) }).toEqual({ name, error: "Error: answered 503" });
      else
        expect({ name, unavailable: error instanceof RedisUnavailableError }).toEqual({
          name,
          unavailable: true,
        });
      expect({ name, ms: ms <= waitMs + 300 }).toEqual({ name, ms: true });
    }
    await store.close();
  });

  test("errors name the bound that applied: a cache change unavailable.changeWaitMs, a health check its timeoutMs", async () => {
    const cache = createCache({
      redis: redis.current.url,
      unavailable: { waitMs: 100, changeWaitMs: 700 },
    });
    const store = new RedisSessionStore({ redis: redis.current.url });
    await cache.set("k", 1);
    await call((done) => store.set("s", session(), done));
    try {
      const [change, health] = await frozen(() =>
        Promise.all([
          cache.invalidate("k").then(
            () => "resolved",
            (error: unknown) => String(error),
          ),
          healthCheck(store, { timeoutMs: 300 }),
        ]),
      );
      expect(change).toMatch(/within 700 ms \(option `unavailable.changeWaitMs`\)/);
      expect(health.error).toMatch(/within 300 ms \(the health check's `timeoutMs`\)/);
      expect(health.error).not.toMatch(/waitMs/);
    } finally {
      await cache.close();
      await store.close();
    }
  });
});
