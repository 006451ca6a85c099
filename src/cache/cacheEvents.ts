import type { DurabilityChange, FailoverEvent } from "../redis/Keyspace.js";

/**
 * The events a cache emits, by name, with their arguments (`cache.on("hit", ({ key, tier }) =>
 * …)`). Each is emitted only while someone listens to it: a hit costs nothing more without.
 */
export interface RedisCacheEvents {
  /** A call answered with a fresh value, from this process's local tier or from Redis. */
  hit: [event: { key: string; tier: "local" | "redis" }];
  /** A call found no fresh value in Redis: it loads, or waits for another's load. */
  miss: [event: { key: string }];
  /** The loader ran in this process (under the key's lease, or without Redis). */
  load: [event: { key: string; durationMs: number; failed: boolean }];
  /**
   * A call answered by another's work: a call for the key in flight in this process (`"call"`),
   * or another process's load (`"fleet"`).
   */
  coalesced: [event: { key: string; via: "call" | "fleet" }];
  /**
   * An expired value answered (within `staleTtl`): while one refresh runs across the fleet
   * (`"refreshing"`, see `loaderTimeout.soft`), or because its loader failed (`"loader-failed"`,
   * with the loader's `error`).
   */
  staleServed: [event: { key: string; reason: "refreshing" | "loader-failed"; error?: unknown }];
  /** A loaded or written value not stored: the key was invalidated or written meanwhile. */
  staleSetRefused: [event: { key: string }];
  /** This instance invalidated `keys`, or every value stored with `tag`. */
  invalidated: [event: { keys: readonly string[] } | { tag: string }];
  /** Redis has not answered for `unavailable.waitMs`: calls go to the loader. */
  disconnect: [];
  /** Redis answers again after a `disconnect`. */
  connect: [];
  /** The master changed (a Sentinel failover, a Cluster shard's): from and to `host:port`. */
  failover: [event: FailoverEvent];
  /** A master's changes are acknowledged with fewer copies than `durability.replicas`. */
  degraded: [change: DurabilityChange];
  /** A degraded master's changes reach as many replicas as asked again. */
  restored: [change: DurabilityChange];
}
