import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { debugFor } from "../redis/debug.js";

const log = debugFor("cache");

/** How often a cache with a local tier checks its subscription by publishing to itself. */
const PING_MS = 500;
/** A subscription whose last ping came back longer ago than this is taken as lost. */
const PING_LOST_MS = 1_500;
/** A subscriber connection that ended for good is replaced after this. */
const REOPEN_MS = 100;

/** What the bus tells its cache. */
export interface BusListener {
  /** A value was invalidated or written ("i"), or a tag invalidated ("t"). */
  changed(kind: "i" | "t", name: string): void;
  /** Messages may have been missed: the subscription or its connection was lost. */
  lost(): void;
}

/**
 * The cache's channel (`<prefix>events`), on a connection of its own. It wakes the callers
 * waiting for another process's load of a key (a notification, not a poll: they also look again
 * when the load's lease would expire, in case its holder died), and with a local tier tells of
 * changes elsewhere. `live` only while messages are known to arrive: subscribed, and (with a
 * local tier) its own pings, published every 500 ms on the data connection, coming back.
 */
export class CacheBus {
  /** Counts changes heard and losses: a local copy read before the count moved may be stale. */
  generation = 0;
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #id = randomBytes(6).toString("base64url");
  #subscribed = false;
  #lastPong = 0;
  /** `live` at the last ping. */
  #wasLive = false;
  readonly #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #subscriber: Redis;

  constructor(
    /** Opens a subscriber connection (see Backend.openSubscriber): again when one ends. */
    private readonly open: () => Redis,
    private readonly channel: string,
    private readonly listener: BusListener,
    /** Publishes on the data connection; given only with a local tier (which needs pings). */
    private readonly publish: ((message: string) => Promise<unknown>) | undefined,
  ) {
    this.#subscriber = this.#connect();
    if (publish !== undefined) {
      this.#timer = setInterval(this.#ping, PING_MS);
      this.#timer.unref();
    }
  }

  /** Whether changes elsewhere are known to reach this process now. */
  get live(): boolean {
    if (!this.#subscribed) return false;
    return this.publish === undefined || Date.now() - this.#lastPong <= PING_LOST_MS;
  }

  /** Resolves when a message about `key`'s load arrives, or after `ms`. */
  waitFor(key: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let waiters = this.#waiters.get(key);
      if (waiters === undefined) this.#waiters.set(key, (waiters = new Set()));
      const done = () => {
        clearTimeout(timer);
        const set = this.#waiters.get(key);
        set?.delete(done);
        if (set?.size === 0) this.#waiters.delete(key);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      waiters.add(done);
    });
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    for (const waiters of this.#waiters.values()) for (const done of [...waiters]) done();
    this.#subscriber.disconnect();
  }

  #connect(): Redis {
    const subscriber = this.open();
    subscriber.on("message", this.#onMessage);
    subscriber.on("ready", () => this.#subscribe(subscriber));
    subscriber.on("close", this.#onLost);
    subscriber.on("end", () => {
      if (this.#closed) return;
      // Not reconnected (a Cluster node's): another, after a moment.
      setTimeout(() => {
        if (!this.#closed) this.#subscriber = this.#connect();
      }, REOPEN_MS).unref();
    });
    subscriber.on("error", (error: Error) => {
      log("subscriber: %s", error.message);
    });
    if (subscriber.status === "ready") this.#subscribe(subscriber);
    return subscriber;
  }

  #subscribe(subscriber: Redis): void {
    subscriber.subscribe(this.channel).then(
      () => {
        this.#subscribed = true;
        log("subscribed to %s", this.channel);
      },
      (error: unknown) => {
        log("subscribing to %s failed: %s", this.channel, (error as Error).message);
      },
    );
  }

  readonly #onLost = (): void => {
    if (this.#subscribed) log("subscription to %s lost", this.channel);
    this.#subscribed = false;
    this.#lastPong = 0;
    this.#lose();
  };

  #lose(): void {
    this.generation++;
    this.listener.lost();
  }

  readonly #ping = (): void => {
    if (this.#closed) return;
    this.publish?.(`p${this.#id}`).catch(() => undefined);
    // A subscription that stopped hearing its pings (its node gone, ioredis re-subscribing
    // elsewhere without a close): what was published meanwhile may be missed.
    const live = this.live;
    if (this.#wasLive && !live) this.#lose();
    this.#wasLive = live;
  };

  readonly #onMessage = (channel: string, message: string): void => {
    if (channel !== this.channel) return;
    const kind = message[0];
    const name = message.slice(1);
    if (kind === "p") {
      if (name === this.#id) this.#lastPong = Date.now();
      return;
    }
    if (kind === "f" || kind === "r" || kind === "i") {
      const waiters = this.#waiters.get(name);
      if (waiters !== undefined) for (const done of [...waiters]) done();
    }
    // A load's fill ("f") changes nothing a local copy could hold: a key is filled only when
    // Redis had no fresh value, and then no instance holds one either.
    if (kind === "i" || kind === "t") {
      this.generation++;
      this.listener.changed(kind, name);
    }
  };
}
