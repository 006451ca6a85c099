import { readFile } from "node:fs/promises";
import { describe, expect, test } from "vitest";
import { redisSession, RedisSessionStore, UnsupportedTopologyError } from "../../src/index.js";
import { normalizeOptions, SESSION_DEFAULTS } from "../../src/session/express/sessionOptions.js";

const secret = "a-secret-that-is-long-enough-for-the-check!";
const redis = "redis://127.0.0.1:6379";

test("an option the topology cannot honour throws UnsupportedTopologyError when the store is created", () => {
  const cluster = { cluster: [{ host: "127.0.0.1", port: 7000 }] };
  expect(() => new RedisSessionStore({ redis: cluster, durability: { replicas: "all" } })).toThrow(
    UnsupportedTopologyError,
  );
  expect(() => new RedisSessionStore({ redis, durability: { fenceReads: true } })).toThrow(
    UnsupportedTopologyError,
  );
  expect(() => new RedisSessionStore({ redis, durability: { replicas: "all" } })).toThrow(
    UnsupportedTopologyError,
  );
});

describe("redisSession rejects bad options at start-up with a TypeError naming them", () => {
  test.each([
    ["no options", undefined, /`options` must be an object/],
    ["a missing secret", { redis }, /`secret` is required/],
    [
      "a short secret",
      { redis, secret: "keyboard cat" },
      /`secret` is 12 characters; use at least 32/,
    ],
    ["an empty secret list", { redis, secret: [] }, /`secret` must not be an empty array/],
    [
      "a short secret in a rotation list",
      { redis, secret: [secret, "old"] },
      /`secret\[1\]` is 3 characters/,
    ],
    [
      "a secret that is not a string",
      { redis, secret: 42 },
      /`secret` must be a string; got number/,
    ],
    [
      "a typo in an option name",
      { redis, secret, sekret: secret },
      /`sekret` is not a known option\. Did you mean `secret`\?/,
    ],
    [
      "a typo in ttl",
      { redis, secret, tll: 60 },
      /`tll` is not a known option\. Did you mean `ttl`\?/,
    ],
    [
      "a typo in a cookie option",
      { redis, secret, cookie: { maxage: 1000 } },
      /`cookie\.maxage` is not a known option\. Did you mean `maxAge`\?/,
    ],
    [
      "an unknown option",
      { redis, secret, flavour: "vanilla" },
      /`flavour` is not a known option\.$/,
    ],
    ["a store", { redis, secret, store: {} }, /`store` is not an option of redisSession/],
    [
      "a zero ttl",
      { redis, secret, ttl: 0 },
      /`ttl` must be a positive whole number of seconds or a function; got number 0/,
    ],
    [
      "a fractional ttl",
      { redis, secret, ttl: 1.5 },
      /`ttl` must be a positive whole number of seconds/,
    ],
    [
      "a negative touchAfter",
      { redis, secret, touchAfter: -1 },
      /`touchAfter` must be a whole number of seconds, 0 or more; got number -1/,
    ],
    [
      "a touchAfter given as a string",
      { redis, secret, touchAfter: "60" },
      /`touchAfter` must be a whole number of seconds, 0 or more; got "60"/,
    ],
    [
      "a ttl string",
      { redis, secret, ttl: "60" },
      /`ttl` must be a positive whole number of seconds or a function; got "60"/,
    ],
    ["an empty prefix", { redis, secret, prefix: "" }, /`prefix` must be a non-empty string/],
    [
      "a maxBytes of 0",
      { redis, secret, maxBytes: 0 },
      /`maxBytes` must be a positive whole number of bytes/,
    ],
    [
      "a cookie maxAge of -1",
      { redis, secret, cookie: { maxAge: -1 } },
      /`cookie\.maxAge` must be a positive whole number of ms/,
    ],
    [
      "resave as a string",
      { redis, secret, resave: "yes" },
      /`resave` must be true or false; got "yes"/,
    ],
    ["an empty cookie name", { redis, secret, name: "" }, /`name` must be a non-empty string/],
    ["a missing redis", { secret }, /`redis` is required/],
    [
      "redis as a number",
      { secret, redis: 6379 },
      /`redis` must be a URL string, an object with `url`, `sentinels` or `cluster`, or an ioredis client; got number 6379/,
    ],
    [
      "an empty redis object",
      { secret, redis: {} },
      /`redis` must have exactly one of `url`, `sentinels` or `cluster`; it has none/,
    ],
    ["two topologies", { secret, redis: { url: redis, cluster: [] } }, /it has url and cluster/],
    [
      "an http URL",
      { secret, redis: "http://127.0.0.1:6379" },
      /`redis` must start with redis:\/\/, rediss:\/\/ or redis-sentinel:\/\//,
    ],
    [
      "a database that is not a number",
      { secret, redis: "redis://127.0.0.1/abc" },
      /path must be a database number/,
    ],
    [
      "no sentinels",
      { secret, redis: { sentinels: [], name: "mymaster" } },
      /`redis\.sentinels` must be a non-empty array of \{ host, port \}/,
    ],
    [
      "a bad sentinel port",
      { secret, redis: { sentinels: [{ host: "127.0.0.1", port: 70000 }], name: "m" } },
      /`redis\.sentinels\[0\]\.port` must be a port number 1-65535; got number 70000/,
    ],
    [
      "a sentinel without a master name",
      { secret, redis: { sentinels: [{ host: "127.0.0.1", port: 26379 }] } },
      /`redis\.name` must be the master group name/,
    ],
    [
      "a sentinel URL without a master name",
      { secret, redis: "redis-sentinel://127.0.0.1:26379" },
      /must look like redis-sentinel:\/\/host:port,host:port\/mymaster/,
    ],
    [
      "a misspelt topology key",
      { secret, redis: { url: redis, pasword: "x" } },
      /`redis\.pasword` is not a topology setting/,
    ],
    [
      "a negative durability",
      { secret, redis, durability: { replicas: -1 } },
      /`durability\.replicas` must be a whole number of replicas, 0 or more; got number -1/,
    ],
    [
      "a typo in durability",
      { secret, redis, durability: { replica: 1 } },
      /`durability\.replica` is not a known option\. Did you mean `replicas`\?/,
    ],
    [
      "readFrom that is neither master nor replica",
      { secret, redis, readFrom: "replicas" },
      /`readFrom` must be "master" or "replica"; got "replicas"\. Did you mean "replica"\?/,
    ],
    [
      "readFrom replica without Sentinel",
      { secret, redis, readFrom: "replica" },
      /`readFrom: "replica"` needs a Sentinel topology/,
    ],
    [
      "readFrom replica without durable writes",
      {
        secret,
        redis: "redis-sentinel://127.0.0.1:26379/mymaster",
        readFrom: "replica",
        durability: { replicas: 0 },
      },
      /`readFrom: "replica"` needs `durability\.replicas` of 1 or more/,
    ],
    [
      'durability "all" on a Cluster',
      {
        secret,
        redis: { cluster: [{ host: "127.0.0.1", port: 7000 }] },
        durability: { replicas: "all" },
      },
      /`durability\.replicas: "all"` needs a Sentinel topology/,
    ],
    [
      'durability "all" without Sentinel',
      { secret, redis, durability: { replicas: "all" } },
      /`durability\.replicas: "all"` needs a Sentinel topology/,
    ],
    [
      "fenceReads without Sentinel",
      { secret, redis, durability: { fenceReads: true } },
      /`durability\.fenceReads` needs a Sentinel topology/,
    ],
    [
      "a zero wait",
      { secret, redis, unavailable: { waitMs: 0 } },
      /`unavailable\.waitMs` must be a positive whole number of ms/,
    ],
    [
      "a typo in unavailable",
      { secret, redis, unavailable: { waitMS: 100 } },
      /`unavailable\.waitMS` is not a known option\. Did you mean `waitMs`\?/,
    ],
    [
      "an ioredis keyPrefix",
      { secret, redis: { url: redis, options: { keyPrefix: "app:" } } },
      /`redis\.options\.keyPrefix` is not supported: use the store's `prefix` option/,
    ],
  ])("%s", (_what, options, message) => {
    expect(() => redisSession(options as never)).toThrow(TypeError);
    expect(() => redisSession(options as never)).toThrow(message);
  });

  test("a password in a bad URL is not echoed in the error", () => {
    expect(() => redisSession({ secret, redis: "redis://user:hunter2@127.0.0.1/x" })).toThrow(
      /redis:\/\/user:\*\*\*@127\.0\.0\.1\/x/,
    );
  });

  test("RedisSessionStore validates the same store options", () => {
    expect(() => new RedisSessionStore({ redis, prefx: "x" } as never)).toThrow(
      /`prefx` is not a known option\. Did you mean `prefix`\?/,
    );
    expect(() => new RedisSessionStore({} as never)).toThrow(/`redis` is required/);
  });
});

describe("defaults", () => {
  const expected = {
    name: "sid",
    resave: false,
    rolling: true,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: "lax", secure: "auto", path: "/" },
  };

  test.each([
    ["only the required options", { secret, redis }],
    [
      "options explicitly undefined",
      {
        secret,
        redis,
        ttl: undefined,
        prefix: undefined,
        name: undefined,
        cookie: { maxAge: undefined },
      },
    ],
  ])("%s give the secure defaults", (_what, options) => {
    const { session, store } = normalizeOptions(options);
    expect(session).toMatchObject(expected);
    expect(session.cookie).toEqual(expected.cookie);
    expect(store).toMatchObject({
      prefix: "sess:",
      ttlMs: undefined,
      maxBytes: 65_536,
      durability: { replicas: 0, timeoutMs: 100, fenceReads: false },
      waitMs: 10_000,
      retryAfterSeconds: 5,
    });
  });

  test("writes wait for one replica on Sentinel, none on a single node", () => {
    const sentinel = { sentinels: [{ host: "127.0.0.1", port: 26379 }], name: "mymaster" };
    expect(normalizeOptions({ secret, redis: sentinel }).store.durability).toEqual({
      replicas: 1,
      timeoutMs: 100,
      fenceReads: false,
      whenFewer: "degrade",
      fsync: false,
    });
    expect(normalizeOptions({ secret, redis }).store.durability).toEqual({
      replicas: 0,
      timeoutMs: 100,
      fenceReads: false,
      whenFewer: "degrade",
      fsync: false,
    });
    expect(
      normalizeOptions({ secret, redis: sentinel, durability: { replicas: 0 } }).store.durability,
    ).toEqual({
      replicas: 0,
      timeoutMs: 100,
      fenceReads: false,
      whenFewer: "degrade",
      fsync: false,
    });
  });

  test("session ids are 192-bit random, URL-safe", () => {
    const { session } = normalizeOptions({ secret, redis });
    const ids = new Set(Array.from({ length: 1000 }, () => session.genid?.(undefined as never)));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[\w-]{32}$/);
  });

  test("given options override the defaults", () => {
    const { session, store } = normalizeOptions({
      secret: [secret, `${secret}-old`],
      redis,
      name: "app.sid",
      ttl: 600,
      prefix: "myapp:",
      cookie: { secure: true, sameSite: "strict", maxAge: 3_600_000 },
    });
    expect(session).toMatchObject({ name: "app.sid", secret: [secret, `${secret}-old`] });
    expect(session.cookie).toMatchObject({
      secure: true,
      sameSite: "strict",
      httpOnly: true,
      maxAge: 3_600_000,
    });
    expect(store).toMatchObject({ prefix: "myapp:", ttlMs: 600_000 });
  });
});

test("the documentation TypeScript users hover names this library's defaults, which are in force", async () => {
  const source = await readFile(
    new URL("../../src/session/express/sessionOptions.ts", import.meta.url),
    "utf8",
  );
  /** The JSDoc right above `key?:` in RedisSessionOptions, on one line. */
  const docOf = (key: string) =>
    new RegExp(`/\\*\\*((?:(?!\\*/)[\\s\\S])*)\\*/\\s*${key}\\?:`)
      .exec(source)?.[1]
      ?.replace(/\s*\n\s*\*\s*/g, " ");
  const { session } = normalizeOptions({ redis, secret });
  for (const key of ["name", "resave", "saveUninitialized", "rolling"] as const) {
    expect(docOf(key)).toContain(`Default \`${JSON.stringify(SESSION_DEFAULTS[key])}\``);
    expect(session[key]).toBe(SESSION_DEFAULTS[key]);
  }
  for (const [key, value] of Object.entries(SESSION_DEFAULTS.cookie)) {
    expect(docOf("cookie")).toContain(`${key}: ${JSON.stringify(value)}`);
    expect(session.cookie).toMatchObject({ [key]: value });
  }
});

describe("a connect-redis configuration gets a pointer to what to use instead, not a bare unknown option", () => {
  test.each([
    ["client", {}, /`client` is connect-redis' option; here it is `redis`/],
    ["disableTouch", true, /`disableTouch` .*`touchAfter`/],
    ["disableTTL", true, /`disableTTL` .*every session key expires/],
    ["serializer", JSON, /`serializer` .*one JSON field per top-level key/],
    ["scanCount", 100, /`scanCount` .*SCAN COUNT 1000/],
  ])("%s", (key, value, message) => {
    expect(() => new RedisSessionStore({ redis, [key]: value })).toThrow(message);
    expect(() => redisSession({ redis, secret, [key]: value })).toThrow(message);
    expect(() => new RedisSessionStore({ redis, [key]: value })).toThrow(
      /docs\/migrating-from-connect-redis\.md/,
    );
  });
});
