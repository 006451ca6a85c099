import type { Cluster, Redis } from "ioredis";
import { debugFor } from "./debug.js";

const log = debugFor("store");

/** A master change the client followed. */
export interface FailoverEvent {
  from: string;
  to: string;
  at: Date;
}

/** What the monitor reports to its store. */
export interface ConnectionEvents {
  /** Redis has not been reachable for `waitMs`: a lasting outage, not a failover. */
  disconnect(): void;
  /** Redis is reachable again after a `disconnect`. */
  connect(): void;
  failover(event: FailoverEvent): void;
}

/**
 * Watches the client's connection: counts connections (so a write and its WAIT can be checked to
 * have met the same master), notices master changes, and tells a failover the client rides
 * through (no event) from a lasting outage (`disconnect` after `waitMs`, then `connect`).
 */
export class ConnectionMonitor {
  /** Incremented on every (re)connection. */
  epoch = 0;
  /** False while a lasting outage is reported. */
  available = true;
  /** `host:port` of the master the client is connected to, when known. */
  master: string | undefined;
  lastFailoverAt: Date | undefined;
  #outageTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: Redis | Cluster,
    private readonly waitMs: number,
    private readonly events: ConnectionEvents,
    /** `host:port` of the master the client is connected to; undefined where there is none. */
    private readonly masterAddress: () => string | undefined,
  ) {
    client.on("ready", this.#onReady);
    client.on("close", this.#onLost);
    client.on("end", this.#onLost);
    if (client.status === "ready") this.#onReady();
    else this.#onLost();
  }

  stop(): void {
    clearTimeout(this.#outageTimer);
    this.client.off("ready", this.#onReady);
    this.client.off("close", this.#onLost);
    this.client.off("end", this.#onLost);
  }

  readonly #onReady = (): void => {
    this.epoch++;
    clearTimeout(this.#outageTimer);
    this.#outageTimer = undefined;
    if (!this.available) {
      this.available = true;
      log("Redis reachable again");
      this.events.connect();
    }
    const address = this.masterAddress();
    if (address === undefined) return;
    if (this.master !== undefined && this.master !== address) {
      const event = { from: this.master, to: address, at: new Date() };
      this.lastFailoverAt = event.at;
      log("failover seen: master moved from %s to %s", event.from, event.to);
      this.events.failover(event);
    }
    this.master = address;
  };

  readonly #onLost = (): void => {
    if (this.#outageTimer !== undefined || !this.available) return;
    this.#outageTimer = setTimeout(() => {
      this.#outageTimer = undefined;
      if (this.client.status === "ready") return;
      this.available = false;
      log("Redis unreachable for %d ms: session requests answer 503 until it is back", this.waitMs);
      this.events.disconnect();
    }, this.waitMs);
    this.#outageTimer.unref();
  };
}
