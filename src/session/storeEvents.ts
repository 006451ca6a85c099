import type { Store } from "express-session";
import type { DurabilityChange, FailoverEvent } from "../redis/Keyspace.js";

/** A listener as express-session's Store (an EventEmitter) takes it. */
export type Listener = Parameters<Store["on"]>[1];

/** What the store emits, by event: each listener's arguments. */
export interface RedisSessionStoreEvents {
  /** Redis has not answered for `unavailable.waitMs`: express-session stops using the store. */
  disconnect: [];
  /** Redis answers again after a `disconnect`. */
  connect: [];
  /** The master changed (a Sentinel failover, a Cluster shard's): from and to `host:port`. */
  failover: [event: FailoverEvent];
  /** A master's writes are acknowledged with fewer copies than `durability.replicas`. */
  degraded: [change: DurabilityChange];
  /** A degraded master's writes reach as many replicas as asked again. */
  restored: [change: DurabilityChange];
}

/**
 * Any other event name (EventEmitter's own, say): a listener of one of the store's events is
 * typed by {@link RedisSessionStoreEvents} only, never by this fallback.
 */
export type OtherEvent<E extends string | symbol> = E & Exclude<E, keyof RedisSessionStoreEvents>;
