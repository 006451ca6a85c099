import type { Cluster, Redis } from "ioredis";
import { debugFor } from "../debug.js";
import type { DurabilityChange } from "../writes/ReplicaRule.js";

const log = debugFor("store");

/** A master change the client followed. */
export interface FailoverEvent {
  from: string;
  to: string;
  at: Date;
}

/** What the monitor reports to each store or cache on the connection. */
export interface ConnectionEvents {
  /** Redis has not been reachable for `waitMs`: a lasting outage, not a failover. */
  disconnect(): void;
  /** Redis is reachable again after a `disconnect`. */
  connect(): void;
  failover(event: FailoverEvent): void;
  /**
   * A master's writes became degraded (fewer replicas can take them than asked, e.g. its last
   * replica is gone) or were restored.
   */
  durability?(change: DurabilityChange): void;
}

/** One user's view of the connection: whether Redis has been unreachable longer than its bound. */
export class OutageWatch {
  /** False while a lasting outage is reported. */
  available = true;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: Redis | Cluster,
    private readonly waitMs: number,
    readonly events: ConnectionEvents,
    private readonly unsubscribe: () => void,
  ) {}

  stop(): void {
    clearTimeout(this.#timer);
    this.unsubscribe();
  }

  ready(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.available) return;
    this.available = true;
    log("Redis reachable again");
    this.events.connect();
  }

  lost(): void {
    if (this.#timer !== undefined || !this.available) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.client.status === "ready") return;
      this.available = false;
      log("Redis unreachable for %d ms: requests answer 503 until it is back", this.waitMs);
      this.events.disconnect();
    }, this.waitMs);
    this.#timer.unref();
  }
}
