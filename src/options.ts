import type { SessionOptions } from "express-session";
import { normalizeCookie, normalizeSecret, randomSessionId } from "./sessionOptions.js";
import { parseTopology } from "./redis/topology.js";
import type { ParsedTopology, RedisTopology } from "./redis/topology.js";
import {
  asRecord,
  boolean,
  describe,
  nonEmptyString,
  nonNegativeInteger,
  positiveInteger,
  rejectUnknown,
} from "./validate.js";

/** How sure a write must be before the user is told it succeeded. */
export interface DurabilityOptions {
  /**
   * Replicas that must confirm a write (`WAIT`, sent in the same pipeline as the write) before it
   * is acknowledged; 0 acknowledges once the master has it. A write not confirmed in time fails
   * with `SessionNotDurableError` (503), so no acknowledged change is lost when the master dies.
   *
   * `"all"` (Sentinel only): every replica Sentinel lists for the master, connected or not. A
   * number counts whichever replicas answer, and a master cut off together with one replica
   * still gets that one's confirmation while Sentinel promotes another, losing what it confirmed;
   * `"all"` cannot be satisfied on such a minority side, at the price of 503s for writes while
   * any replica is down or cut off (see the README's "When Redis fails").
   * @default 1 on Sentinel, 0 otherwise
   */
  replicas?: number | "all" | undefined;
  /**
   * How long one `WAIT` may block; it is repeated until the replicas confirm or
   * `unavailable.waitMs` has passed.
   * @default 100
   */
  timeoutMs?: number | undefined;
  /**
   * Sentinel only. `true`: a session is read only from the master a Sentinel majority names (as
   * durable writes are acknowledged only there), so an instance cut off with the old master
   * answers 503 instead of sessions that may be stale. It stops within 1.25 s of losing the
   * majority, before a new master can exist on the other side as long as Sentinel's
   * `down-after-milliseconds` is at least that.
   * @default false
   */
  fenceReads?: boolean | undefined;
}

/** What a request does while Redis cannot be reached. */
export interface UnavailableOptions {
  /**
   * How long a store operation may wait for Redis — through a failover, a reconnect, a frozen
   * master — before the request is answered `503`.
   * @default 10000
   */
  waitMs?: number | undefined;
  /**
   * The `Retry-After` of that 503, in seconds.
   * @default 5
   */
  retryAfterSeconds?: number | undefined;
}

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
   * Seconds a session lives in Redis after its last request. Unset, each session lives as long as
   * its cookie's `maxAge` (so a per-session "remember me" maxAge is honoured), else a day.
   * @default the session cookie's maxAge, else 86400
   */
  ttl?: number | undefined;
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
}

/**
 * Options of {@link redisSession}: everything express-session takes except `store`, plus the
 * store's options. `secret` is required.
 */
export interface RedisSessionOptions
  extends Omit<SessionOptions, "store" | "secret">, RedisSessionStoreOptions {
  /**
   * Signs the session cookie; at least 32 characters. An array rotates secrets: the first signs,
   * all are accepted.
   */
  secret: string | string[];
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
  session: {
    name: "sid",
    resave: false,
    saveUninitialized: false,
    rolling: true,
    /** 24 random bytes: a 192-bit session id. */
    idBytes: 24,
    minSecretLength: 32,
    cookie: { httpOnly: true, sameSite: "lax", secure: "auto", path: "/" },
  },
  durability: {
    sentinelReplicas: 1,
    otherReplicas: 0,
    /**
     * Short, because durable writes share one connection and a WAIT holds it: while a replica is
     * missing, each write queued behind another's WAIT would wait that long again.
     */
    timeoutMs: 100,
  },
  unavailable: {
    waitMs: 10_000,
    retryAfterSeconds: 5,
  },
  client: {
    /** Reconnect and Sentinel retry delays grow by this step… */
    retryStepMs: 100,
    /** …up to this cap, so a new master is found within a second of being elected. */
    retryCapMs: 1_000,
    /** A Sentinel that has not answered within this is passed over for the next one. */
    sentinelTimeoutMs: 1_000,
    /**
     * On Sentinel, a connection (to a Sentinel or a data node) not established within this is
     * given up and the next address tried: a partitioned host drops packets rather than refusing
     * them, and ioredis' 10 s would hold every reconnection up that long.
     */
    sentinelConnectTimeoutMs: 500,
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
  durability: { replicas: number | "all"; timeoutMs: number; fenceReads: boolean };
  waitMs: number;
  retryAfterSeconds: number;
}

const STORE_KEYS = [
  "redis",
  "prefix",
  "ttl",
  "touchAfter",
  "maxBytes",
  "durability",
  "unavailable",
] as const;
const SESSION_KEYS = [
  "cookie",
  "genid",
  "name",
  "proxy",
  "resave",
  "rolling",
  "saveUninitialized",
  "secret",
  "unset",
] as const;

/**
 * Validates the store's options and fills in defaults.
 * @throws TypeError naming the option that is wrong.
 */
export function normalizeStoreOptions(options: unknown): NormalizedStoreOptions {
  if (isNormalized(options)) return options;
  const record = asRecord(options, "options");
  rejectUnknown(record, STORE_KEYS, "");
  return pickStoreOptions(record);
}

function isNormalized(options: unknown): options is NormalizedStoreOptions {
  return typeof options === "object" && options !== null && NORMALIZED in options;
}

function pickStoreOptions(record: Record<string, unknown>): NormalizedStoreOptions {
  if (record.redis === undefined) {
    throw new TypeError(
      "`redis` is required: where sessions live, e.g. " +
        '{ sentinels: [{ host: "10.0.0.5", port: 26379 }], name: "mymaster" } or "redis://localhost:6379"',
    );
  }
  const prefix = record.prefix ?? DEFAULTS.store.prefix;
  if (typeof prefix !== "string" || prefix === "") {
    throw new TypeError(`\`prefix\` must be a non-empty string; got ${describe(prefix)}`);
  }
  const ttl = record.ttl;
  if (ttl !== undefined) positiveInteger(ttl, "ttl", "seconds");
  const touchAfter = record.touchAfter;
  if (touchAfter !== undefined) nonNegativeInteger(touchAfter, "touchAfter", "seconds");
  const maxBytes = record.maxBytes ?? DEFAULTS.store.maxBytes;
  positiveInteger(maxBytes, "maxBytes", "bytes");
  const topology = parseTopology(record.redis);
  return {
    [NORMALIZED]: true,
    topology,
    prefix,
    ttlMs: ttl === undefined ? undefined : ttl * 1000,
    defaultTtlMs: DEFAULTS.store.ttlSeconds * 1000,
    touchAfterMs: touchAfter === undefined ? undefined : touchAfter * 1000,
    maxBytes,
    durability: normalizeDurability(record.durability, topology),
    ...normalizeUnavailable(record.unavailable),
  };
}

function normalizeDurability(
  value: unknown,
  topology: ParsedTopology,
): NormalizedStoreOptions["durability"] {
  const record = value === undefined ? {} : asRecord(value, "durability");
  rejectUnknown(record, ["replicas", "timeoutMs", "fenceReads"], "durability.");
  const { sentinelReplicas, otherReplicas, timeoutMs } = DEFAULTS.durability;
  const fenceReads = boolean(record.fenceReads ?? false, "durability.fenceReads");
  if (fenceReads && topology.kind !== "sentinel") {
    throw new TypeError(
      "`durability.fenceReads` needs a Sentinel topology (`{ sentinels, name }` or a " +
        "redis-sentinel:// URL): it reads only from the master a Sentinel majority names",
    );
  }
  const replicas =
    record.replicas ?? (topology.kind === "sentinel" ? sentinelReplicas : otherReplicas);
  const wait = record.timeoutMs ?? timeoutMs;
  positiveInteger(wait, "durability.timeoutMs", "ms");
  if (replicas === "all") {
    if (topology.kind !== "sentinel") {
      throw new TypeError(
        '`durability.replicas: "all"` needs a Sentinel topology (`{ sentinels, name }` or a ' +
          "redis-sentinel:// URL): the replicas a master should have are what Sentinel knows of it",
      );
    }
    return { replicas, timeoutMs: wait, fenceReads };
  }
  if (typeof replicas === "string") {
    throw new TypeError(
      `\`durability.replicas\` must be a whole number of replicas or "all"; got ${describe(replicas)}`,
    );
  }
  nonNegativeInteger(replicas, "durability.replicas", "replicas");
  if (replicas > 0 && topology.kind === "cluster") {
    throw new TypeError(
      "`durability.replicas` must be 0 on a Redis Cluster: WAIT is supported on Sentinel and " +
        "single-node topologies",
    );
  }
  return { replicas, timeoutMs: wait, fenceReads };
}

function normalizeUnavailable(
  value: unknown,
): Pick<NormalizedStoreOptions, "waitMs" | "retryAfterSeconds"> {
  const record = value === undefined ? {} : asRecord(value, "unavailable");
  rejectUnknown(record, ["waitMs", "retryAfterSeconds"], "unavailable.");
  const waitMs = record.waitMs ?? DEFAULTS.unavailable.waitMs;
  positiveInteger(waitMs, "unavailable.waitMs", "ms");
  const retryAfterSeconds = record.retryAfterSeconds ?? DEFAULTS.unavailable.retryAfterSeconds;
  positiveInteger(retryAfterSeconds, "unavailable.retryAfterSeconds", "seconds");
  return { waitMs, retryAfterSeconds };
}

/** What {@link redisSession} hands to the store and to express-session. */
export interface NormalizedSessionOptions {
  store: NormalizedStoreOptions;
  /** express-session options without `store`; the factory adds it. */
  session: Omit<SessionOptions, "store">;
}

/**
 * Validates redisSession's options, applies the secure defaults and splits them between the store
 * and express-session.
 * @throws TypeError naming the option that is wrong.
 */
export function normalizeOptions(options: unknown): NormalizedSessionOptions {
  const record = asRecord(options, "options");
  if (record.store !== undefined) {
    throw new TypeError(
      "`store` is not an option of redisSession: it builds its own store from `redis`. " +
        "To bring a store, use express-session directly: session({ store: new RedisSessionStore(…) })",
    );
  }
  rejectUnknown(record, [...STORE_KEYS, ...SESSION_KEYS], "");
  const store = pickStoreOptions(record);
  const cookie = normalizeCookie(record.cookie);
  const session: Omit<SessionOptions, "store"> = {
    secret: normalizeSecret(record.secret),
    name: nonEmptyString(record.name ?? DEFAULTS.session.name, "name"),
    resave: boolean(record.resave ?? DEFAULTS.session.resave, "resave"),
    rolling: boolean(record.rolling ?? DEFAULTS.session.rolling, "rolling"),
    saveUninitialized: boolean(
      record.saveUninitialized ?? DEFAULTS.session.saveUninitialized,
      "saveUninitialized",
    ),
    cookie,
    genid: randomSessionId,
  };
  if (record.proxy !== undefined) session.proxy = boolean(record.proxy, "proxy");
  if (record.genid !== undefined) {
    if (typeof record.genid !== "function") {
      throw new TypeError(`\`genid\` must be a function; got ${describe(record.genid)}`);
    }
    session.genid = record.genid as SessionOptions["genid"];
  }
  if (record.unset !== undefined) {
    if (record.unset !== "destroy" && record.unset !== "keep") {
      throw new TypeError(`\`unset\` must be "destroy" or "keep"; got ${describe(record.unset)}`);
    }
    session.unset = record.unset;
  }
  return { store, session };
}
