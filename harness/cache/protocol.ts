import type { CacheStats } from "../../src/index.js";

// What the test side (CacheProcess) and a cache worker process (cacheWorker.ts) exchange.

/** What one burst of concurrent getOrLoad calls in a cache process gave. */
export interface BurstResult<S = CacheStats> {
  results: { value?: unknown; error?: string; ms: number }[];
  stats: S;
}

/** What a worker's random workload gave. */
export interface WorkloadResult<S = CacheStats> {
  failed: { getOrLoad: number; writeThrough: number; invalidate: number };
  errors: string[];
  reads: number;
  readP99Ms: number;
  readMaxMs: number;
  /** getOrLoad calls not settled when the workload ended. */
  pending: number;
  stats: S;
}

/** What the random workload is told. */
export interface WorkloadSettings {
  /** Operations in all, or (with `durationMs`) until that time has passed. */
  ops?: number;
  durationMs?: number;
  keys: number;
  concurrency: number;
  /** Longest pause between a database access and the cache's set, ms. */
  pauseMs: number;
  /** Share of getOrLoad among the operations (the rest write). */
  reads?: number;
}
