import { Redis } from "ioredis";
import { describe, expect, test } from "vitest";
import { freePort } from "../../harness/ports.js";
import { NotReadyError, RedisSessionStore, createCache } from "../../src/index.js";
import type { RedisCache } from "../../src/index.js";
import { useSingleNode } from "../support/hooks.js";
import { useWarnings } from "../support/warnings.js";

// `await store.ready()` / `await cache.ready()`: resolves when Redis answers as the options ask,
// rejects within 2 s naming the cause otherwise; and the `logger` option, where the one line
// per problem goes instead of console.warn.

const redis = useSingleNode();

/** What the library said on console.warn during the test. */
const consoleLines = useWarnings();

/** A logger as pino's and winston's: its `warn` needs its `this`. */
class RecordingLogger {
  readonly lines: string[] = [];
  warn(message: string): void {
    this.lines.push(message);
  }
}

/** What `ready()` rejected with, and after how long. */
async function readyOutcome(
  target: RedisSessionStore | RedisCache,
): Promise<{ error: unknown; ms: number }> {
  const started = Date.now();
  try {
    await target.ready();
    return { error: undefined, ms: Date.now() - started };
  } catch (error) {
    return { error, ms: Date.now() - started };
  }
}

describe("ready()", () => {
  test("resolves on a reachable master, for the store and the cache", async () => {
    const store = new RedisSessionStore({ redis: redis.current.url });
    const cache = createCache({ redis: redis.current.url });
    try {
      await expect(store.ready()).resolves.toBeUndefined();
      await expect(cache.ready()).resolves.toBeUndefined();
    } finally {
      await store.close();
      await cache.close();
    }
  });

  const misconfigured: {
    what: string;
    redis: () => Promise<string | { url: string; username: string; password: string }>;
    reason: NotReadyError["reason"];
    cause: RegExp;
  }[] = [
    {
      what: "a refused port",
      redis: async () => `redis://127.0.0.1:${await freePort()}`,
      reason: "unreachable",
      cause: /ECONNREFUSED/,
    },
    {
      what: "an unknown host",
      redis: () => Promise.resolve("redis://no-such-host.invalid:6379"),
      reason: "unreachable",
      cause: /ENOTFOUND|EAI_AGAIN/,
    },
    {
      what: "a wrong password",
      redis: () =>
        Promise.resolve({ url: redis.current.url, username: "app", password: "wrong-password" }),
      reason: "unreachable",
      cause: /WRONGPASS/,
    },
    {
      what: "a database index the server does not have",
      redis: () => Promise.resolve(`${redis.current.url}/99`),
      reason: "unreachable",
      cause: /DB index is out of range|database 99/,
    },
    {
      what: "fewer replicas than durability.replicas",
      redis: () => Promise.resolve(redis.current.url),
      reason: "fewer-replicas",
      cause: /`durability.replicas` is 1, but the master at \S+ has 0 replicas in sync/,
    },
  ];
  test.each(misconfigured)(
    "$what: rejects within 2 s with NotReadyError ($reason) naming the cause",
    async ({ redis: topology, reason, cause }) => {
      const given = await topology();
      const durability = { replicas: reason === "fewer-replicas" ? 1 : 0 };
      const store = new RedisSessionStore({ redis: given, durability });
      const cache = createCache({ redis: given, durability });
      try {
        for (const target of [store, cache]) {
          const { error, ms } = await readyOutcome(target);
          expect(error).toBeInstanceOf(NotReadyError);
          expect((error as NotReadyError).reason).toBe(reason);
          expect(String(error)).toMatch(cause);
          expect(ms).toBeLessThan(2_000);
        }
      } finally {
        await store.close();
        await cache.close();
      }
    },
  );

  test("a wrong password, asked while the client is in its handshake: rejects (WRONGPASS), not answered as the default user", async () => {
    // ioredis writes INFO during the handshake, right behind the AUTH that fails; the server
    // answers it as the default user. Asked on the client's "connect" event, that is every time.
    const client = new Redis(redis.current.url, {
      username: "app",
      password: "wrong-password",
      lazyConnect: true,
    });
    client.on("error", () => undefined);
    const store = new RedisSessionStore({ redis: client, durability: { replicas: 0 } });
    const cache = createCache({ redis: client, durability: { replicas: 0 } });
    try {
      const outcomes = new Promise<{ error: unknown; ms: number }[]>((resolve) => {
        client.once("connect", () => {
          resolve(Promise.all([readyOutcome(store), readyOutcome(cache)]));
        });
      });
      void client.connect().catch(() => undefined);
      for (const { error, ms } of await outcomes) {
        expect(error).toBeInstanceOf(NotReadyError);
        expect((error as NotReadyError).reason).toBe("unreachable");
        expect(String(error)).toMatch(/WRONGPASS/);
        expect(ms).toBeLessThan(2_000);
      }
    } finally {
      await store.close();
      await cache.close();
      client.disconnect();
    }
  });

  test("a node that answers as a replica: rejects (not-master), and resolves once it is a master again", async () => {
    const admin = new Redis(redis.current.url);
    const store = new RedisSessionStore({ redis: redis.current.url });
    try {
      await store.ready();
      // A replica of a master that does not exist: what a URL pointing at a replica gets.
      await admin.replicaof("127.0.0.1", await freePort());
      const error: unknown = await store.ready().catch((rejected: unknown) => rejected);
      expect(error).toBeInstanceOf(NotReadyError);
      expect((error as NotReadyError).reason).toBe("not-master");
      expect(String(error)).toMatch(/answers as a replica, not a master/);
      await admin.replicaof("NO", "ONE");
      await expect(store.ready()).resolves.toBeUndefined();
    } finally {
      await admin.replicaof("NO", "ONE");
      await admin.quit();
      await store.close();
    }
  });

  test("a timeoutMs that is not a positive number: TypeError naming it", async () => {
    const store = new RedisSessionStore({ redis: redis.current.url });
    try {
      for (const timeoutMs of [0, -1, "1000", Number.NaN]) {
        await expect(
          store.ready({ timeoutMs } as unknown as { timeoutMs: number }),
        ).rejects.toThrow(/`timeoutMs` must be a positive whole number of ms/);
      }
    } finally {
      await store.close();
    }
  });
});

describe("the logger option", () => {
  test("a problem goes once to the logger (called as its method), not to console.warn", async () => {
    const logger = new RecordingLogger();
    const url = `redis://127.0.0.1:${await freePort()}`;
    const store = new RedisSessionStore({ redis: url, logger });
    const cache = createCache({ redis: url, logger, unavailable: { waitMs: 300 } });
    try {
      await expect(store.ready()).rejects.toThrow(NotReadyError);
      await expect(cache.ready()).rejects.toThrow(NotReadyError);
      const unreachable = logger.lines.filter((line) => line.includes("cannot reach Redis"));
      // Each connection's problem once: the store and the cache each have one.
      expect(unreachable).toHaveLength(2);
      expect(unreachable[0]).toMatch(/^redis-ha-session: .*ECONNREFUSED/);
      expect(consoleLines()).toEqual([]);
    } finally {
      await store.close();
      await cache.close();
    }
  });

  test("without a logger, the line goes to console.warn", async () => {
    const store = new RedisSessionStore({ redis: `redis://127.0.0.1:${await freePort()}` });
    try {
      await expect(store.ready()).rejects.toThrow(NotReadyError);
      expect(consoleLines().filter((line) => line.includes("cannot reach Redis"))).toHaveLength(1);
    } finally {
      await store.close();
    }
  });

  test("a logger without warn(): TypeError at start-up naming `logger`", () => {
    for (const logger of [{}, "console", null, { warn: "loud" }]) {
      expect(() => new RedisSessionStore({ redis: redis.current.url, logger } as never)).toThrow(
        /`logger` must have a `warn\(message\)` method/,
      );
      expect(() => createCache({ redis: redis.current.url, logger } as never)).toThrow(
        /`logger` must have a `warn\(message\)` method/,
      );
    }
  });
});
