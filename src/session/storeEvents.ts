import { Store } from "express-session";
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

/**
 * express-session's Store with the store's events typed by name: a listener of one of
 * {@link RedisSessionStoreEvents} gets its arguments' types, a wrong one does not compile.
 */
export abstract class EventedStore extends Store {
  /** Listens to one of the store's events (see RedisSessionStoreEvents), typed by its name. */
  override on<E extends keyof RedisSessionStoreEvents>(
    event: E,
    listener: (...args: RedisSessionStoreEvents[E]) => void,
  ): this;
  override on<E extends string | symbol>(event: OtherEvent<E>, listener: Listener): this;
  override on(event: string | symbol, listener: Listener): this {
    return super.on(event, listener);
  }

  /** As {@link on}, for one event only. */
  override once<E extends keyof RedisSessionStoreEvents>(
    event: E,
    listener: (...args: RedisSessionStoreEvents[E]) => void,
  ): this;
  override once<E extends string | symbol>(event: OtherEvent<E>, listener: Listener): this;
  override once(event: string | symbol, listener: Listener): this {
    return super.once(event, listener);
  }
}
