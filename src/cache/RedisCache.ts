import { EventEmitter } from "node:events";
import { whenReady } from "../redis/ready.js";
import type { ReadyOptions } from "../redis/ready.js";
import type { Cluster, Redis } from "ioredis";
import { CacheBus } from "./CacheBus.js";
import { CacheCounters } from "./CacheCounters.js";
import type { CacheStats } from "./CacheCounters.js";
import type { RedisCacheEvents } from "./cacheEvents.js";
import { CacheLoads } from "./CacheLoads.js";
import { CacheNamespace } from "./CacheNamespace.js";
import { LoadBatch } from "./loadBatch.js";
import type { BulkLoaded } from "./loadBatch.js";
import { CacheReads } from "./CacheReads.js";
import { CacheRedis } from "./CacheRedis.js";
import { CacheWrites } from "./CacheWrites.js";
import { Limiter } from "./Limiter.js";
import { LocalTier } from "./LocalTier.js";
import { normalizeCacheOptions } from "./options.js";
import type { CacheCallOptions } from "./callOptions.js";
import type { CacheOptions, NormalizedCacheOptions } from "./options.js";
import { Keyspace } from "../redis/Keyspace.js";
import { CHANGE_SCRIPT } from "./scripts.js";
import { traced } from "../metrics/tracing.js";

/**
 * A DB cache on Redis: lazy loading with one load per key at a time across the fleet
 * (`getOrLoad`), write-through (`writeThrough`), invalidation by key and tag, without stale sets.
 * Made by {@link createCache}. Its events (see {@link RedisCacheEvents}) are typed by name.
 */
export class RedisCache extends EventEmitter<RedisCacheEvents> {
  /** The ioredis client the cache goes through. */
  readonly client: Redis | Cluster;
  readonly #options: NormalizedCacheOptions;
  /** @internal The cache's face of the Redis layer (for healthCheck). */
  readonly keyspace: Keyspace;
  readonly #commands: CacheRedis;
  readonly #bus: CacheBus;
  readonly #reads: CacheReads;
  readonly #writes: CacheWrites;
  readonly #local: LocalTier | undefined;
  readonly #counters = new CacheCounters(this);
  #closed: Promise<void> | undefined;

  /** @throws TypeError naming a bad option. */
  constructor(options: CacheOptions) {
    super();
    this.#options = normalizeCacheOptions(options);
    const { topology, waitMs, changeWaitMs, durability } = this.#options;
    const local = this.#options.local;
    this.#local = local === undefined ? undefined : new LocalTier(local.maxEntries);
    const flush = () => this.#local?.clear();
    this.keyspace = Keyspace.open(topology, {
      name: "cache",
      log: "cache",
      waitMs,
      changes: { waitMs: changeWaitMs, option: "unavailable.changeWaitMs" },
      durability,
      writeScript: CHANGE_SCRIPT,
      events: {
        disconnect: () => {
          flush();
          this.emit("disconnect");
        },
        connect: () => {
          flush();
          this.emit("connect");
        },
        failover: (event) => {
          flush();
          this.emit("failover", event);
        },
        durability: (change) => this.emit(change.degraded ? "degraded" : "restored", change),
      },
      logger: this.#options.logger,
      unconfirmable:
        "every change (writeThrough, set, invalidate, invalidateTag) waits for confirmations " +
        `it cannot get and fails after \`unavailable.changeWaitMs\` (${changeWaitMs} ms)`,
    });
    this.client = this.keyspace.client;
    this.#commands = new CacheRedis(this.keyspace, this.#options);
    const { backend } = this.keyspace;
    this.#bus = new CacheBus(
      () => backend.openSubscriber(),
      this.#commands.keys.channel,
      {
        changed: (kind, name) => {
          if (kind === "t") this.#local?.deleteTag(name);
          else this.#local?.delete(name);
        },
        lost: flush,
      },
      local === undefined
        ? undefined
        : (message) => backend.send("PUBLISH", [this.#commands.keys.channel, message]),
    );
    this.#writes = new CacheWrites(this.#commands, this.#local, this.#counters);
    const loads = new CacheLoads(
      this.#commands,
      this.#bus,
      this.#counters,
      new Limiter(this.#options.loaderConcurrency),
    );
    this.#reads = new CacheReads(
      this.#options,
      this.keyspace,
      this.#commands,
      this.#bus,
      loads,
      this.#local,
      this.#counters,
    );
  }

  /**
   * Lazy loading: the value cached for `key`, or `loader()`'s, which is then cached. A miss runs
   * the loader once across every process for that key at a time: the others wait for its result.
   * A loader's error reaches the callers waiting in this process (others load again) and is not
   * cached; `undefined` is returned and not cached; `null` is cached for `negativeTtl`. Without
   * Redis (past `unavailable.waitMs`) the loader is called directly.
   * @throws TypeError for a bad key, or a value JSON cannot encode (nothing is cached)
   */
  getOrLoad<T>(
    key: string,
    loader: () => Promise<T> | T,
    options?: CacheCallOptions<T>,
  ): Promise<T> {
    return traced("cache.getOrLoad", key, () => this.#reads.getOrLoad(key, loader, options));
  }

  /** The cached value of `key`, or undefined (also while Redis is unavailable: counted). */
  get<T = unknown>(key: string, options?: Pick<CacheCallOptions, "tags">): Promise<T | undefined> {
    return traced("cache.get", key, () => this.#reads.get<T>(key, options));
  }

  /**
   * The cached values of `keys`, in their order (undefined: none). Their reads go out together:
   * one round trip to each node that holds some.
   */
  getMany<T = unknown>(
    keys: readonly string[],
    options?: Pick<CacheCallOptions, "tags">,
  ): Promise<(T | undefined)[]> {
    if (!Array.isArray(keys)) {
      return Promise.reject(
        new TypeError(`getMany: \`keys\` must be an array; got ${typeof keys}`),
      );
    }
    return Promise.all(keys.map((key: string) => this.get<T>(key, options)));
  }

  /**
   * getOrLoad for each of `keys`, in their order, with one call of `loader` for the keys this
   * process loads together (`loader(keys)` returns a Map, an object by key or an array in their
   * order; return `null` for a row that does not exist, to cache that). Each key keeps
   * getOrLoad's guarantees: one load across the fleet, no stale set, stale answers within
   * `staleTtl`.
   */
  getOrLoadMany<T>(
    keys: readonly string[],
    loader: (keys: string[]) => Promise<BulkLoaded<T>> | BulkLoaded<T>,
    options?: CacheCallOptions<T>,
  ): Promise<(T | undefined)[]> {
    if (!Array.isArray(keys) || typeof loader !== "function") {
      return Promise.reject(
        new TypeError(
          `getOrLoadMany takes an array of keys and a function; got ${typeof keys} and ${typeof loader}`,
        ),
      );
    }
    const batch = new LoadBatch(loader, keys);
    return Promise.all(
      keys.map((key: string) => {
        let loads = false;
        const load = () => {
          loads = true;
          return batch.load(key);
        };
        return this.getOrLoad<T | undefined>(
          key,
          load,
          options as CacheCallOptions<T | undefined>,
        ).finally(() => {
          if (!loads) batch.answered();
        });
      }),
    );
  }

  /** Stores `value` for `key`, confirmed by replicas as `durability` says. */
  set<T>(key: string, value: T, options?: CacheCallOptions<T>): Promise<void> {
    return traced("cache.set", key, () => this.#writes.set(key, value, options));
  }

  /**
   * Write-through: `writer()` commits the change to the database and returns the new value,
   * which the cache then holds. Before it runs, the key's value is deleted and the key fenced:
   * a load that read the database before the write can never store its value afterwards; of two
   * write-throughs in flight together, neither stores (the next read loads what the database
   * holds). Throws `RedisUnavailableError` without calling `writer` if Redis cannot be told.
   */
  writeThrough<T>(
    key: string,
    writer: () => Promise<T> | T,
    options?: CacheCallOptions<T>,
  ): Promise<T> {
    return traced("cache.writeThrough", key, () => this.#writes.writeThrough(key, writer, options));
  }

  /** Deletes the values of `keys` and refuses loads in flight for them, on every instance. */
  invalidate(keys: string | readonly string[]): Promise<void> {
    const key = typeof keys === "string" ? keys : undefined;
    return traced("cache.invalidate", key, () => this.#writes.invalidate(keys));
  }

  /** Invalidates every value stored with `tag` until now, on every instance. */
  invalidateTag(tag: string): Promise<void> {
    return traced("cache.invalidateTag", tag, () => this.#writes.invalidateTag(tag));
  }

  /**
   * A namespace of this cache: its keys apart, and `clear()` to invalidate them all at once on
   * every topology (see CacheNamespace).
   */
  namespace(name: string): CacheNamespace {
    return new CacheNamespace(this, name);
  }

  /** The master the client follows and when it last changed (for healthCheck). */
  get connection(): { master: string | undefined; lastFailoverAt: Date | undefined } {
    return this.keyspace.connection;
  }

  /** Replicas a change must reach (`durability.replicas`; undefined for "all"). */
  get requiredReplicas(): number | undefined {
    return this.keyspace.requiredReplicas();
  }

  get settings(): Readonly<NormalizedCacheOptions> {
    return this.#options;
  }

  /** Resolves once Redis answers as the options ask; rejects naming the cause (NotReadyError). */
  ready(options?: ReadyOptions): Promise<void> {
    return whenReady(this.keyspace, options);
  }

  /**
   * Whether changes made elsewhere are known to reach this process now (subscribed to the
   * cache's channel and, with a local tier, its pings coming back); the local tier is used only
   * then.
   */
  get subscribed(): boolean {
    return this.#bus.live;
  }

  stats(): CacheStats {
    return this.#counters.snapshot(this.keyspace.counters);
  }

  /** Stops the cache; closes the Redis connection if the cache created it. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#bus.close();
      this.#local?.clear();
      await this.keyspace.close();
    })();
    return this.#closed;
  }
}
