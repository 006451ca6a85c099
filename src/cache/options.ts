import { normalizeDurability, normalizeLogger } from "../redis/options/options.js";
import type { DurabilityOptions, Logger, NormalizedDurability } from "../redis/options/options.js";
import { parseTopology } from "../redis/options/topology.js";
import type { CacheSerializer } from "./entry.js";
import type { ParsedTopology, RedisTopology } from "../redis/options/topology.js";
import {
  asRecord,
  describe,
  nonEmptyString,
  nonNegativeInteger,
  positiveInteger,
  rejectUnknown,
} from "../redis/options/validate.js";

/** Options of {@link createCache}. */
export interface CacheOptions {
  /** Where the cache lives: the same forms as a session store's `redis`, or a shared client. */
  redis: RedisTopology;
  /**
   * Prefix of every key the cache writes.
   * @default "cache:"
   */
  prefix?: string | undefined;
  /**
   * Seconds a loaded or written value is fresh (at most 7 days, with `staleTtl`).
   * @default 300
   */
  ttl?: number | undefined;
  /**
   * Seconds a loader's `null` is cached ("not found" is an answer too); 0 caches no `null`.
   * @default 30
   */
  negativeTtl?: number | undefined;
  /**
   * Seconds an expired value is kept after its TTL: answered at once while one refresh runs
   * across the fleet (stale-while-revalidate; see `loaderTimeout.soft`), and when its loader fails
   * (stale-if-error); 0 keeps none.
   * @default 0
   */
  staleTtl?: number | undefined;
  /**
   * How values are stored, if not as JSON: anything with `stringify(value)` and `parse(text)`
   * (superjson; `v8Serializer`, which keeps Dates, Maps, Sets and BigInts). A value it would not
   * give back as it was is refused with a `TypeError` naming the key.
   * @default JSON, refusing what it would change (a Date, a Map, a class instance)
   */
  serializer?: CacheSerializer | undefined;
  /** How long a caller waits for a loader (its own, or another process's under the lease). */
  loaderTimeout?: LoaderTimeoutOptions | undefined;
  /**
   * Share of the TTL taken off at random for each value (0.1: 90–100 % of it), so that keys
   * loaded together do not all expire together.
   * @default 0.1
   */
  ttlJitter?: number | undefined;
  /**
   * An in-process tier in front of Redis: at most `maxEntries` values, each for at most `ttl`
   * seconds (and never past its Redis freshness), dropped on every instance when it is
   * invalidated or written anywhere (Redis Pub/Sub), and all dropped whenever that subscription,
   * the connection or the master is lost. Values from it are shared between callers: treat them as
   * read-only.
   */
  local?: LocalTierOptions | undefined;
  /**
   * How sure an invalidation or a write-through must be before it resolves (as sessions'):
   * replicas that must have it, so that a failover cannot bring an old value back.
   * @default { replicas: 1, timeoutMs: 100 } on Sentinel and Cluster, { replicas: 0 } otherwise
   */
  durability?: DurabilityOptions | undefined;
  unavailable?: CacheUnavailableOptions | undefined;
  /**
   * Where the one line per distinct problem goes (Redis unreachable, a wrong password, durability
   * that cannot be met), without `DEBUG`: anything with `warn(message)` — pino, winston.
   * @default console
   */
  logger?: Logger | undefined;
}

export interface LoaderTimeoutOptions {
  /**
   * Ms after which a caller with an expired value at hand (within `staleTtl`) is answered with it
   * while the load goes on and fills the cache; 0 answers it at once (stale-while-revalidate).
   * @default 0
   */
  soft?: number | undefined;
  /**
   * Ms after which a caller gets a `LoaderTimeoutError` (with no expired value to answer) while
   * the load goes on and fills the cache. Unset, a caller waits as long as the loader takes.
   */
  hard?: number | undefined;
}

export interface LocalTierOptions {
  maxEntries: number;
  /** @default 10 (seconds) */
  ttl?: number | undefined;
}

/** What the cache does while Redis cannot be reached. */
export interface CacheUnavailableOptions {
  /**
   * How long a cache operation may wait for Redis in all before it goes to the loader (a cache
   * that is slow must not make a page slower than the database).
   * @default 250
   */
  waitMs?: number | undefined;
  /**
   * How long a change — `writeThrough`, `set`, `invalidate`, `invalidateTag` — may wait for Redis
   * (and its replicas' confirmation) before it rejects with `RedisUnavailableError`: as long as a
   * session write, so that a change made during a failover waits it out rather than fail. A read
   * never waits this long: past `waitMs` it goes to the loader.
   * @default 10000
   */
  changeWaitMs?: number | undefined;
  /**
   * Loaders one process runs at once, with or without Redis (while Redis is unavailable the
   * database takes the load the cache took: this bounds it); more wait for a free slot.
   * @default 16
   */
  loaderConcurrency?: number | undefined;
}

export const CACHE_DEFAULTS = {
  prefix: "cache:",
  ttlSeconds: 300,
  negativeTtlSeconds: 30,
  staleTtlSeconds: 0,
  ttlJitter: 0.1,
  localTtlSeconds: 10,
  waitMs: 250,
  changeWaitMs: 10_000,
  loaderConcurrency: 16,
  /** Longest TTL plus stale TTL: tag invalidation times are kept this long. */
  maxLifetimeSeconds: 7 * 86_400,
  /** Longest key, in bytes (UTF-8). */
  maxKeyBytes: 1_024,
} as const;

/** The cache's options after validation. */
export interface NormalizedCacheOptions {
  topology: ParsedTopology;
  prefix: string;
  ttlMs: number;
  negativeTtlMs: number;
  staleTtlMs: number;
  serializer: CacheSerializer | undefined;
  /** See LoaderTimeoutOptions. */
  softTimeoutMs: number;
  hardTimeoutMs: number | undefined;
  ttlJitter: number;
  local: { maxEntries: number; ttlMs: number } | undefined;
  durability: NormalizedDurability;
  logger: Logger | undefined;
  waitMs: number;
  changeWaitMs: number;
  loaderConcurrency: number;
}

const CACHE_KEYS = [
  "redis",
  "prefix",
  "ttl",
  "negativeTtl",
  "staleTtl",
  "loaderTimeout",
  "serializer",
  "ttlJitter",
  "local",
  "durability",
  "unavailable",
  "logger",
] as const;

/**
 * Validates the cache's options and fills in defaults.
 * @throws TypeError naming the option that is wrong.
 */
export function normalizeCacheOptions(options: unknown): NormalizedCacheOptions {
  const record = asRecord(options, "options");
  rejectUnknown(record, CACHE_KEYS, "");
  if (record.redis === undefined) {
    throw new TypeError(
      "`redis` is required: where the cache lives, e.g. " +
        '{ sentinels: [{ host: "10.0.0.5", port: 26379 }], name: "mymaster" } or "redis://localhost:6379"',
    );
  }
  const prefix = nonEmptyString(record.prefix ?? CACHE_DEFAULTS.prefix, "prefix");
  const ttl = record.ttl ?? CACHE_DEFAULTS.ttlSeconds;
  positiveInteger(ttl, "ttl", "seconds");
  const negativeTtl = record.negativeTtl ?? CACHE_DEFAULTS.negativeTtlSeconds;
  nonNegativeInteger(negativeTtl, "negativeTtl", "seconds");
  const staleTtl = record.staleTtl ?? CACHE_DEFAULTS.staleTtlSeconds;
  nonNegativeInteger(staleTtl, "staleTtl", "seconds");
  checkLifetime(ttl, staleTtl, "ttl");
  checkLifetime(negativeTtl, staleTtl, "negativeTtl");
  const ttlJitter = record.ttlJitter ?? CACHE_DEFAULTS.ttlJitter;
  if (typeof ttlJitter !== "number" || !(ttlJitter >= 0 && ttlJitter < 1)) {
    throw new TypeError(
      `\`ttlJitter\` must be a share of the TTL, 0 or more and below 1; got ${describe(ttlJitter)}`,
    );
  }
  const topology = parseTopology(record.redis);
  return {
    topology,
    prefix,
    ttlMs: ttl * 1000,
    negativeTtlMs: negativeTtl * 1000,
    staleTtlMs: staleTtl * 1000,
    ...normalizeLoaderTimeout(record.loaderTimeout),
    serializer: normalizeSerializer(record.serializer),
    ttlJitter,
    local: normalizeLocal(record.local, ttl),
    durability: normalizeDurability(record.durability, topology),
    ...normalizeUnavailable(record.unavailable),
    logger: normalizeLogger(record.logger),
  };
}

/** `ttl` plus `staleTtl`, at most the longest lifetime (tag invalidations are kept that long). */
export function checkLifetime(ttl: number, staleTtl: number, option: string): void {
  if (ttl + staleTtl > CACHE_DEFAULTS.maxLifetimeSeconds) {
    throw new TypeError(
      `\`${option}\` plus \`staleTtl\` must be at most ${CACHE_DEFAULTS.maxLifetimeSeconds} seconds ` +
        `(7 days: tag invalidations are kept that long); got ${ttl + staleTtl}`,
    );
  }
}

function normalizeLocal(value: unknown, ttl: number): NormalizedCacheOptions["local"] {
  if (value === undefined) return undefined;
  const record = asRecord(value, "local");
  rejectUnknown(record, ["maxEntries", "ttl"], "local.");
  positiveInteger(record.maxEntries, "local.maxEntries", "entries");
  const localTtl = record.ttl ?? Math.min(CACHE_DEFAULTS.localTtlSeconds, ttl);
  positiveInteger(localTtl, "local.ttl", "seconds");
  if (localTtl > ttl) {
    throw new TypeError(
      `\`local.ttl\` must be at most \`ttl\` (${ttl} s): a local copy never outlives the value ` +
        `in Redis; got ${localTtl}`,
    );
  }
  return { maxEntries: record.maxEntries, ttlMs: localTtl * 1000 };
}

function normalizeSerializer(value: unknown): CacheSerializer | undefined {
  if (value === undefined) return undefined;
  const { stringify, parse } = (value ?? {}) as Partial<Record<string, unknown>>;
  if (typeof stringify !== "function" || typeof parse !== "function") {
    throw new TypeError(
      "`serializer` must have `stringify(value)` and `parse(text)` methods (superjson, " +
        `v8Serializer); got ${describe(value)}`,
    );
  }
  return value as CacheSerializer;
}

function normalizeLoaderTimeout(value: unknown): {
  softTimeoutMs: number;
  hardTimeoutMs: number | undefined;
} {
  const record = value === undefined ? {} : asRecord(value, "loaderTimeout");
  rejectUnknown(record, ["soft", "hard"], "loaderTimeout.");
  const soft = record.soft ?? 0;
  nonNegativeInteger(soft, "loaderTimeout.soft", "ms");
  const hard = record.hard;
  if (hard === undefined) return { softTimeoutMs: soft, hardTimeoutMs: undefined };
  positiveInteger(hard, "loaderTimeout.hard", "ms");
  if (soft > hard) {
    throw new TypeError(
      `\`loaderTimeout.soft\` (${soft} ms) must be at most \`loaderTimeout.hard\` (${hard} ms)`,
    );
  }
  return { softTimeoutMs: soft, hardTimeoutMs: hard };
}

function normalizeUnavailable(value: unknown): {
  waitMs: number;
  changeWaitMs: number;
  loaderConcurrency: number;
} {
  const record = value === undefined ? {} : asRecord(value, "unavailable");
  rejectUnknown(record, ["waitMs", "changeWaitMs", "loaderConcurrency"], "unavailable.");
  const waitMs = record.waitMs ?? CACHE_DEFAULTS.waitMs;
  positiveInteger(waitMs, "unavailable.waitMs", "ms");
  const changeWaitMs = record.changeWaitMs ?? CACHE_DEFAULTS.changeWaitMs;
  positiveInteger(changeWaitMs, "unavailable.changeWaitMs", "ms");
  const loaderConcurrency = record.loaderConcurrency ?? CACHE_DEFAULTS.loaderConcurrency;
  positiveInteger(loaderConcurrency, "unavailable.loaderConcurrency", "loaders");
  return { waitMs, changeWaitMs, loaderConcurrency };
}
