import { whenReady } from "../redis/ready.js";
import type { ReadyOptions } from "../redis/ready.js";
import type { Cluster, Redis } from "ioredis";
import { CacheBus } from "./CacheBus.js";
import { CacheCounters } from "./CacheCounters.js";
import type { CacheStats } from "./CacheCounters.js";
import { CacheLoads } from "./CacheLoads.js";
import type { Answer, Found, LoadRequest } from "./CacheLoads.js";
import { CacheRedis } from "./CacheRedis.js";
import { encodeTags } from "./entry.js";
import { CacheWrites } from "./CacheWrites.js";
import { Limiter } from "./Limiter.js";
import { LocalTier } from "./LocalTier.js";
import { callTtlMs, checkCallOptions, normalizeCacheOptions } from "./options.js";
import type { CacheCallOptions, CacheOptions, NormalizedCacheOptions } from "./options.js";
import { Keyspace } from "../redis/Keyspace.js";
import { debugFor } from "../redis/debug.js";
import { CHANGE_SCRIPT } from "./scripts.js";

const log = debugFor("cache");

/**
 * A DB cache on Redis: lazy loading with one load per key at a time across the fleet
 * (`getOrLoad`), write-through (`writeThrough`), invalidation by key and tag, without stale sets.
 * Made by {@link createCache}.
 */
export class RedisCache {
  /** The ioredis client the cache goes through. */
  readonly client: Redis | Cluster;
  readonly #options: NormalizedCacheOptions;
  /** @internal The cache's face of the Redis layer (for healthCheck). */
  readonly keyspace: Keyspace;
  readonly #commands: CacheRedis;
  readonly #bus: CacheBus;
  readonly #loads: CacheLoads;
  readonly #writes: CacheWrites;
  readonly #local: LocalTier | undefined;
  readonly #counters = new CacheCounters();
  /** Calls for a key in flight in this process, which later calls for it join. */
  readonly #flights = new Map<string, Promise<unknown>>();
  #closed: Promise<void> | undefined;

  /** @throws TypeError naming a bad option. */
  constructor(options: CacheOptions) {
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
      events: { disconnect: flush, connect: flush, failover: flush },
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
    this.#loads = new CacheLoads(
      this.#commands,
      this.#bus,
      this.#counters,
      new Limiter(this.#options.loaderConcurrency),
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
  getOrLoad<T>(key: string, loader: () => Promise<T> | T, options?: CacheCallOptions): Promise<T> {
    try {
      checkCallOptions(options, "getOrLoad", this.#options.staleTtlMs);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new TypeError(String(error)));
    }
    // A key in the local tier or in flight was checked when it got there.
    const local = this.#local?.get(key, Date.now());
    if (local !== undefined) {
      this.#counters.localHits++;
      return Promise.resolve(local.value as T);
    }
    let flight = this.#flights.get(key);
    if (flight !== undefined) {
      this.#counters.coalesced++;
      return flight as Promise<T>;
    }
    let request: LoadRequest;
    try {
      request = this.#request(key, loader, options);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    flight = this.#getOrLoad(request);
    this.#flights.set(key, flight);
    return flight as Promise<T>;
  }

  /** The cached value of `key`, or undefined (also while Redis is unavailable: counted). */
  async get<T = unknown>(
    key: string,
    options?: Pick<CacheCallOptions, "tags">,
  ): Promise<T | undefined> {
    checkCallOptions(options, "get", this.#options.staleTtlMs);
    const redisKey = this.#commands.keys.entry(key);
    const local = this.#local?.get(key, Date.now());
    if (local !== undefined) {
      this.#counters.localHits++;
      return local.value as T;
    }
    try {
      const found = await this.#loads.find(redisKey, options?.tags, this.#commands.budget());
      if (found.fresh === undefined) {
        this.#counters.misses++;
        return undefined;
      }
      this.#counters.hits++;
      return found.fresh.value as T;
    } catch (error) {
      this.#failed("read", error);
      return undefined;
    }
  }

  /** Stores `value` for `key`, confirmed by replicas as `durability` says. */
  set(key: string, value: unknown, options?: CacheCallOptions): Promise<void> {
    return this.#writes.set(key, value, options);
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
    options?: CacheCallOptions,
  ): Promise<T> {
    return this.#writes.writeThrough(key, writer, options);
  }

  /** Deletes the values of `keys` and refuses loads in flight for them, on every instance. */
  invalidate(keys: string | readonly string[]): Promise<void> {
    return this.#writes.invalidate(keys);
  }

  /** Invalidates every value stored with `tag` until now, on every instance. */
  invalidateTag(tag: string): Promise<void> {
    return this.#writes.invalidateTag(tag);
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

  /** A miss's request, of options already checked. */
  #request(key: string, loader: () => unknown, options: CacheCallOptions | undefined): LoadRequest {
    if (typeof loader !== "function") {
      throw new TypeError(`getOrLoad's loader must be a function; got ${typeof loader}`);
    }
    return {
      key,
      redisKey: this.#commands.keys.entry(key),
      loader,
      freshMs: callTtlMs(options),
      tags: encodeTags(options?.tags),
      tagList: options?.tags,
    };
  }

  /** One call's read or load, which the calls for its key made meanwhile join. */
  async #getOrLoad(request: LoadRequest): Promise<unknown> {
    try {
      return await this.#answer(request);
    } finally {
      // The only flight for its key: a new one starts only once this one is gone.
      this.#flights.delete(request.key);
    }
  }

  async #answer(request: LoadRequest): Promise<unknown> {
    if (!this.keyspace.outages.available) {
      this.#counters.errors++;
      return (await this.#loads.direct(request, undefined)).value;
    }
    const budget = this.#commands.budget();
    const generation = this.#bus.generation;
    let found: Found;
    try {
      found = await this.#loads.find(request.redisKey, request.tagList, budget);
    } catch (error) {
      this.#failed("read", error);
      return (await this.#loads.direct(request, undefined)).value;
    }
    let answer: Answer;
    if (found.fresh !== undefined) {
      this.#counters.hits++;
      answer = { value: found.fresh.value, entry: found.fresh };
    } else {
      // Its own Redis failures go to the loader; a loader's error is the caller's.
      this.#counters.misses++;
      answer = await this.#loads.load(request, found, budget);
    }
    this.#keepLocally(request.key, answer, generation);
    return answer.value;
  }

  /** A value from Redis kept in the local tier, unless a change was heard since it was read. */
  #keepLocally(key: string, { entry }: Answer, generation: number): void {
    const local = this.#local;
    const ttlMs = this.#options.local?.ttlMs;
    if (local === undefined || ttlMs === undefined || entry === undefined) return;
    if (this.#bus.generation !== generation || !this.#bus.live) return;
    const freshFor = entry.freshUntil - this.#commands.serverNow();
    if (freshFor <= 0) return;
    local.set(key, {
      value: entry.value,
      expiresAt: Date.now() + Math.min(ttlMs, freshFor),
      tags: entry.tags,
    });
  }

  #failed(what: string, error: unknown): void {
    this.#counters.errors++;
    log("cache %s failed: %s", what, error instanceof Error ? error.message : String(error));
  }
}
