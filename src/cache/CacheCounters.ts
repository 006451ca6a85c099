import type { HistogramSnapshot, StoreCounters } from "../redis/stats.js";

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
  /** Expired values served because their loader failed (`staleTtl`). */
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

/** The cache's own counters; what its Redis layer counted is added to them in `snapshot`. */
export class CacheCounters {
  hits = 0;
  misses = 0;
  loads = 0;
  coalesced = 0;
  localHits = 0;
  staleServed = 0;
  rejectedStaleSets = 0;
  errors = 0;

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
}
