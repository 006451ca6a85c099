import type { Keyspace } from "../redis/Keyspace.js";
import { debugFor } from "../redis/debug.js";
import type { CacheBus } from "./CacheBus.js";
import type { CacheCounters } from "./CacheCounters.js";
import type { Answer, CacheLoads, Found, LoadRequest } from "./CacheLoads.js";
import type { CacheRedis } from "./CacheRedis.js";
import { encodeTags } from "./entry.js";
import type { LocalTier } from "./LocalTier.js";
import { callTtl, checkCallOptions } from "./callOptions.js";
import type { CacheCallOptions } from "./callOptions.js";
import type { NormalizedCacheOptions } from "./options.js";

const log = debugFor("cache");

/**
 * The cache's reads: `get`, and `getOrLoad`'s lazy loading — the local tier first, then a call
 * for the key already in flight in this process, then Redis, then one load across the fleet
 * (CacheLoads) — each answer counted (and its event emitted) by the counters.
 */
export class CacheReads {
  /** Calls for a key in flight in this process, which later calls for it join. */
  readonly #flights = new Map<string, Promise<unknown>>();

  constructor(
    private readonly options: NormalizedCacheOptions,
    private readonly keyspace: Keyspace,
    private readonly commands: CacheRedis,
    private readonly bus: CacheBus,
    private readonly loads: CacheLoads,
    private readonly local: LocalTier | undefined,
    private readonly counters: CacheCounters,
  ) {}

  /** See RedisCache.getOrLoad. */
  getOrLoad<T>(
    key: string,
    loader: () => Promise<T> | T,
    options?: CacheCallOptions<T>,
  ): Promise<T> {
    try {
      checkCallOptions(options, "getOrLoad", this.options.staleTtlMs);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new TypeError(String(error)));
    }
    // A key in the local tier or in flight was checked when it got there.
    const local = this.local?.get(key, Date.now());
    if (local !== undefined) {
      this.counters.hit(key, "local");
      return Promise.resolve(local.value as T);
    }
    let flight = this.#flights.get(key);
    if (flight !== undefined) {
      this.counters.coalesce(key, "call");
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

  /** See RedisCache.get. */
  async get<T>(key: string, options?: Pick<CacheCallOptions, "tags">): Promise<T | undefined> {
    checkCallOptions(options, "get", this.options.staleTtlMs);
    const redisKey = this.commands.keys.entry(key);
    const local = this.local?.get(key, Date.now());
    if (local !== undefined) {
      this.counters.hit(key, "local");
      return local.value as T;
    }
    try {
      const found = await this.loads.find(redisKey, options?.tags, this.commands.budget());
      if (found.fresh === undefined) {
        this.counters.miss(key);
        return undefined;
      }
      this.counters.hit(key, "redis");
      return found.fresh.value as T;
    } catch (error) {
      this.#failed("read", error);
      return undefined;
    }
  }

  /** A miss's request, of options already checked. */
  #request(
    key: string,
    loader: () => unknown,
    options: CacheCallOptions<never> | undefined,
  ): LoadRequest {
    if (typeof loader !== "function") {
      throw new TypeError(`getOrLoad's loader must be a function; got ${typeof loader}`);
    }
    return {
      key,
      redisKey: this.commands.keys.entry(key),
      loader,
      ttl: callTtl(options),
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
      this.counters.errors++;
      return (await this.loads.direct(request, undefined)).value;
    }
    const budget = this.commands.budget();
    const generation = this.bus.generation;
    let found: Found;
    try {
      found = await this.loads.find(request.redisKey, request.tagList, budget);
    } catch (error) {
      this.#failed("read", error);
      return (await this.loads.direct(request, undefined)).value;
    }
    let answer: Answer;
    if (found.fresh !== undefined) {
      this.counters.hit(request.key, "redis");
      answer = { value: found.fresh.value, entry: found.fresh };
    } else {
      // Its own Redis failures go to the loader; a loader's error is the caller's.
      this.counters.miss(request.key);
      answer = await this.loads.load(request, found, budget);
    }
    this.#keepLocally(request.key, answer, generation);
    return answer.value;
  }

  /** A value from Redis kept in the local tier, unless a change was heard since it was read. */
  #keepLocally(key: string, { entry }: Answer, generation: number): void {
    const local = this.local;
    const ttlMs = this.options.local?.ttlMs;
    if (local === undefined || ttlMs === undefined || entry === undefined) return;
    if (this.bus.generation !== generation || !this.bus.live) return;
    const freshFor = entry.freshUntil - this.commands.serverNow();
    if (freshFor <= 0) return;
    local.set(key, {
      value: entry.value,
      expiresAt: Date.now() + Math.min(ttlMs, freshFor),
      tags: entry.tags,
    });
  }

  #failed(what: string, error: unknown): void {
    this.counters.errors++;
    log("cache %s failed: %s", what, error instanceof Error ? error.message : String(error));
  }
}
