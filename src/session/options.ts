import { EXPRESS_COOKIE_DEFAULTS } from "./codec.js";
import type { CookieDefaults } from "./codec.js";
import { TtlPolicy, type SessionTtl } from "./ttl.js";
import { isClusterTopology, parseTopology } from "../redis/options/topology.js";
import type { ParsedTopology, RedisTopology } from "../redis/options/topology.js";
import {
  normalizeDurability,
  normalizeLogger,
  normalizeUnavailable,
} from "../redis/options/options.js";
import type {
  DurabilityOptions,
  Logger,
  NormalizedDurability,
  UnavailableOptions,
} from "../redis/options/options.js";
import { didYouMean } from "../redis/options/didYouMean.js";
import { UnsupportedTopologyError } from "../errors/UnsupportedTopologyError.js";
import {
  asRecord,
  describe,
  nonEmptyString,
  nonNegativeInteger,
  positiveInteger,
  rejectUnknown,
} from "../redis/options/validate.js";

/** Options of {@link RedisSessionStore}. */
export interface RedisSessionStoreOptions {
  /**
   * Where sessions live: `{ sentinels, name }`, `{ url }`, `{ cluster }`, a URL string
   * (`redis://`, `rediss://`, `redis-sentinel://h:p,h:p/name`) or an ioredis client you own.
   */
  redis: RedisTopology;
  /**
   * Prefix of every key the store writes.
   * @default "sess:"
   */
  prefix?: string | undefined;
  /**
   * Seconds a session lives in Redis after its last request, or a function of the session that
   * returns them (guests an hour, "remember me" a month: `(session) => session.user ? 2_592_000 :
   * 3_600`), called whenever the TTL is set. Unset, each session lives as long as its cookie's
   * `maxAge` (so a per-session "remember me" maxAge is honoured), else a day.
   * @default the session cookie's maxAge, else 86400
   */
  ttl?: number | SessionTtl | undefined;
  /**
   * Seconds a read may leave a session's TTL alone after it was last renewed. A read of a session
   * renewed longer ago renews it again. So an unchanged request costs a single HGETALL, and a
   * session ends between `ttl - touchAfter` and `ttl` after its last request. 0 renews on every
   * read, in the same command (a Lua script). At most half the TTL is used.
   * @default 1 % of the TTL, at most 60
   */
  touchAfter?: number | undefined;
  /**
   * Largest encoded session, in bytes. A bigger one fails with `SessionTooLargeError` and nothing
   * is written.
   * @default 65536
   */
  maxBytes?: number | undefined;
  /** @default { replicas: 1, timeoutMs: 100 } on Sentinel, { replicas: 0 } otherwise */
  durability?: DurabilityOptions | undefined;
  /** @default { waitMs: 10000, retryAfterSeconds: 5 } */
  unavailable?: UnavailableOptions | undefined;
  /**
   * Where the one line per distinct problem goes (Redis unreachable, a wrong password, durability
   * that cannot be met), without `DEBUG`: anything with `warn(message)` — pino, winston.
   * @default console
   */
  logger?: Logger | undefined;
  /**
   * `"replica"` (Sentinel): reads go to a replica that is connected and caught up — with what the
   * reader's last acknowledged write needs (a causal token in a second cookie, `<name>.v`) and
   * with what the master had 200 ms ago — else to the master; a replica miss is read again on the
   * master, TTL renewals and writes go to the master, and a logout is confirmed by every
   * connected replica (or waits 300 ms) before it is answered. Needs `durability.replicas` ≥ 1.
   * @default "master"
   */
  readFrom?: "master" | "replica" | undefined;
}

export const DEFAULTS = {
  store: {
    prefix: "sess:",
    ttlSeconds: 86_400,
    /** Unset `touchAfter`: this share of a session's TTL… */
    touchAfterShare: 0.01,
    /** …but at most a minute. */
    touchAfterCapMs: 60_000,
    maxBytes: 64 * 1024,
  },
} as const;

/** Marks options that went through normalizeStoreOptions, so they are not validated twice. */
const NORMALIZED: unique symbol = Symbol("redis-ha-session.normalized");

/** The store's options after validation; only this is read afterwards. */
export interface NormalizedStoreOptions {
  [NORMALIZED]: true;
  topology: ParsedTopology;
  prefix: string;
  /** A fixed TTL, or undefined to take each session's cookie maxAge. */
  ttlMs: number | undefined;
  defaultTtlMs: number;
  /** A fixed `touchAfter`, or undefined for the default share of each session's TTL. */
  touchAfterMs: number | undefined;
  maxBytes: number;
  durability: NormalizedDurability;
  waitMs: number;
  retryAfterSeconds: number;
  readFrom: "master" | "replica";
  logger: Logger | undefined;
  /** Cookie settings stored cookies leave out (see codec's CookieDefaults). */
  cookieDefaults: CookieDefaults;
  /** How long a session lives and when its TTL is renewed, from the options above. */
  ttl: TtlPolicy;
}

export const STORE_KEYS = [
  "redis",
  "prefix",
  "ttl",
  "touchAfter",
  "maxBytes",
  "durability",
  "unavailable",
  "readFrom",
  "logger",
] as const;

/**
 * connect-redis' options that have another name or no place here, with what to do instead
 * (docs/migrating-from-connect-redis.md).
 */
const CONNECT_REDIS_OPTIONS: Record<string, string> = {
  client:
    "is connect-redis' option; here it is `redis`, which takes your ioredis client (Redis or " +
    "Cluster) or where Redis is (a URL, { sentinels, name }, { cluster }). A node-redis client " +
    "is not supported: give its URL instead",
  disableTouch:
    "is connect-redis' option; here `touchAfter` (seconds) sets how often a read renews the TTL: " +
    "`touchAfter: 0` on every read, a value as long as the TTL almost never",
  disableTTL:
    "is connect-redis' option; here every session key expires (the cookie's maxAge, else `ttl`, " +
    "else a day): a session without expiry would stay in Redis forever",
  serializer:
    "is connect-redis' option; here a session is stored as a hash with one JSON field per " +
    "top-level key (docs/storage-format.md), and connect-redis' JSON strings are read as they are",
  scanCount:
    "is connect-redis' option; here ids(), all(), length() and clear() walk with SCAN COUNT 1000",
};

/**
 * Throws a TypeError pointing to what to do instead, for an option carried over from
 * connect-redis (see CONNECT_REDIS_OPTIONS).
 */
export function rejectConnectRedisOptions(record: Record<string, unknown>): void {
  for (const [key, advice] of Object.entries(CONNECT_REDIS_OPTIONS)) {
    if (Object.hasOwn(record, key)) {
      throw new TypeError(`\`${key}\` ${advice} (docs/migrating-from-connect-redis.md)`);
    }
  }
}

/**
 * Validates the store's options and fills in defaults.
 * @throws TypeError naming the option that is wrong.
 */
export function normalizeStoreOptions(options: unknown): NormalizedStoreOptions {
  if (isNormalized(options)) return options;
  const record = asRecord(options, "options");
  rejectConnectRedisOptions(record);
  rejectUnknown(record, STORE_KEYS, "");
  return pickStoreOptions(record);
}

function isNormalized(options: unknown): options is NormalizedStoreOptions {
  return typeof options === "object" && options !== null && NORMALIZED in options;
}

/**
 * The store's options of `record` (whose keys were checked), validated, with every default in:
 * the one place they are finished. `cookieDefaults`: what the middleware's cookies have unless a
 * request changes them (express-session's own for a store used directly).
 */
export function pickStoreOptions(
  record: Record<string, unknown>,
  cookieDefaults: CookieDefaults = EXPRESS_COOKIE_DEFAULTS,
): NormalizedStoreOptions {
  if (record.redis === undefined) {
    throw new TypeError(
      "`redis` is required: where sessions live, e.g. " +
        '{ sentinels: [{ host: "10.0.0.5", port: 26379 }], name: "mymaster" } or "redis://localhost:6379"',
    );
  }
  const prefix = nonEmptyString(record.prefix ?? DEFAULTS.store.prefix, "prefix");
  const ttl = record.ttl;
  const ttlOf = typeof ttl === "function" ? (ttl as SessionTtl) : undefined;
  if (ttl !== undefined && ttlOf === undefined)
    positiveInteger(ttl, "ttl", "seconds or a function");
  const touchAfter = record.touchAfter;
  if (touchAfter !== undefined) nonNegativeInteger(touchAfter, "touchAfter", "seconds");
  const maxBytes = record.maxBytes ?? DEFAULTS.store.maxBytes;
  positiveInteger(maxBytes, "maxBytes", "bytes");
  const topology = parseTopology(record.redis);
  const durability = normalizeDurability(record.durability, topology);
  const lifetimes = {
    ttlMs: typeof ttl === "number" ? ttl * 1000 : undefined,
    defaultTtlMs: DEFAULTS.store.ttlSeconds * 1000,
    touchAfterMs: touchAfter === undefined ? undefined : touchAfter * 1000,
  };
  const { touchAfterShare, touchAfterCapMs } = DEFAULTS.store;
  return {
    [NORMALIZED]: true,
    topology,
    prefix,
    ...lifetimes,
    ttl: new TtlPolicy({ ...lifetimes, ttlOf, touchAfterShare, touchAfterCapMs }),
    maxBytes,
    durability,
    readFrom: normalizeReadFrom(record.readFrom, topology, durability),
    ...normalizeUnavailable(record.unavailable),
    logger: normalizeLogger(record.logger),
    cookieDefaults,
  };
}

/**
 * Validates `readFrom`.
 * @throws TypeError naming the option and what is wrong with it.
 */
function normalizeReadFrom(
  value: unknown,
  topology: ParsedTopology,
  durability: NormalizedDurability,
): "master" | "replica" {
  if (value === undefined || value === "master") return "master";
  if (value !== "replica") {
    const guess = typeof value === "string" ? didYouMean(value, ["master", "replica"]) : undefined;
    throw new TypeError(
      `\`readFrom\` must be "master" or "replica"; got ${describe(value)}` +
        (guess === undefined ? "" : `. Did you mean "${guess}"?`),
    );
  }
  if (topology.kind !== "sentinel" && !isClusterTopology(topology)) {
    throw new UnsupportedTopologyError(
      '`readFrom: "replica"` needs a Sentinel topology (`{ sentinels, name }` or a ' +
        "redis-sentinel:// URL) or a Cluster: the replicas and their offsets are found from " +
        "the master",
    );
  }
  if (durability.replicas === 0) {
    throw new TypeError(
      '`readFrom: "replica"` needs `durability.replicas` of 1 or more: a write\'s causal token ' +
        "is the master's offset once replicas confirmed it",
    );
  }
  return "replica";
}
