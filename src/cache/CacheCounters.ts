import type { EventEmitter } from "node:events";
import type { HistogramSnapshot, StoreCounters } from "../redis/stats.js";
import type { RedisCacheEvents } from "./cacheEvents.js";

/** What `cache.stats()` reports: counts since the cache was created. */
export interface CacheStats {
  /** Calls answered from Redis with a fresh value. */
  hits: number;
  /** Calls that found no fresh value in Redis (or the local tier). */
  misses: number;
  /** Loader calls in this process (under the key's lease, or directly while Redis is unavailable). */
  loads: number;
  /** Calls answered by another call's read or load: in this process, or another's load. */
  coalesced: number;
  /** Calls answered from the local tier. */
  localHits: number;
  /**
   * Expired values answered (`staleTtl`): while their refresh ran (stale-while-revalidate,
   * `loaderTimeout.soft`), or because their loader failed.
   */
  staleServed: number;
  /** Values not stored because the key was invalidated or written while they were loaded. */
  rejectedStaleSets: number;
  /** Redis operations that failed or timed out (the call went on without Redis, or failed). */
  errors: number;
  /** Entries in Redis not in the cache's format, taken as misses. */
  corrupt: number;
  /** Changes confirmed by replicas together: how many per batch (one script call, one WAIT). */
  writeBatchSize: HistogramSnapshot;
  /** Time from sending a batch of changes to its WAIT's answer, in ms. */
  waitLatencyMs: HistogramSnapshot;
}

/**
 * The cache's own counters, and the one place its call events are emitted from: each count
 * emits its event when someone listens to it (no object made otherwise). What its Redis layer
 * counted is added in `snapshot`.
 */
export class CacheCounters {
  hits = 0;
  misses = 0;
  loads = 0;
  coalesced = 0;
  localHits = 0;
  staleServed = 0;
  rejectedStaleSets = 0;
  errors = 0;

  constructor(private readonly events: EventEmitter<RedisCacheEvents>) {}

  hit(key: string, tier: "local" | "redis"): void {
    if (tier === "local") this.localHits++;
    else this.hits++;
    if (this.#listened("hit")) this.events.emit("hit", { key, tier });
  }

  miss(key: string): void {
    this.misses++;
    if (this.#listened("miss")) this.events.emit("miss", { key });
  }

  /** Runs `loader` as one load of `key`: counted, and timed for the `load` event. */
  async load<T>(key: string, loader: () => Promise<T> | T): Promise<T> {
    this.loads++;
    if (!this.#listened("load")) return loader();
    const started = performance.now();
    let failed = true;
    try {
      const value = await loader();
      failed = false;
      return value;
    } finally {
      const durationMs = Math.round((performance.now() - started) * 10) / 10;
      this.events.emit("load", { key, durationMs, failed });
    }
  }

  coalesce(key: string, via: "call" | "fleet"): void {
    this.coalesced++;
    if (this.#listened("coalesced")) this.events.emit("coalesced", { key, via });
  }

  /** An expired value answered: while its refresh runs, or as its loader failed (`error`). */
  servedStale(key: string, reason: "refreshing" | "loader-failed", error?: unknown): void {
    this.staleServed++;
    if (this.#listened("staleServed")) this.events.emit("staleServed", { key, reason, error });
  }

  refusedStaleSet(key: string): void {
    this.rejectedStaleSets++;
    if (this.#listened("staleSetRefused")) this.events.emit("staleSetRefused", { key });
  }

  invalidated(what: { keys: readonly string[] } | { tag: string }): void {
    if (this.#listened("invalidated")) this.events.emit("invalidated", what);
  }

  snapshot(redis: StoreCounters): CacheStats {
    return {
      hits: this.hits,
      misses: this.misses,
      loads: this.loads,
      coalesced: this.coalesced,
      localHits: this.localHits,
      staleServed: this.staleServed,
      rejectedStaleSets: this.rejectedStaleSets,
      errors: this.errors,
      corrupt: redis.corrupt,
      writeBatchSize: redis.writeBatchSize.snapshot(),
      waitLatencyMs: redis.waitLatencyMs.snapshot(),
    };
  }

  #listened(event: keyof RedisCacheEvents): boolean {
    return this.events.listenerCount(event) > 0;
  }
}
