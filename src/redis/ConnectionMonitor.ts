import type { Cluster, Redis } from "ioredis";
import { debugFor } from "./debug.js";

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
}

/**
 * Watches a client's connection for everyone sharing it: counts connections (so a write and its
 * WAIT can be checked to have met the same master) and notices master changes — on a Cluster, a
 * shard's, from the slot map each refresh brings (a master gone, one of its replicas a master
 * now; slots moved between masters are no failover). Each user watches
 * for outages with its own bound (`watch`): a failover the client rides through within it is no
 * event, a longer outage is `disconnect`, then `connect`.
 */
export class ConnectionMonitor {
  /** Incremented on every (re)connection. */
  epoch = 0;
  /** `host:port` of the master the client is connected to, when known. */
  master: string | undefined;
  lastFailoverAt: Date | undefined;
  readonly #watches = new Set<OutageWatch>();
  /** A Cluster's masters and their replicas, as of the last slot map. */
  #shards = new Map<string, Set<string>>();

  constructor(
    private readonly client: Redis | Cluster,
    /** `host:port` of the master the client is connected to; undefined where there is none. */
    private readonly masterAddress: () => string | undefined,
  ) {
    client.on("ready", this.#onReady);
    client.on("close", this.#onLost);
    client.on("end", this.#onLost);
    if (client.status === "ready") this.#onReady();
    if (client.isCluster) client.on("refresh", this.#onRefresh);
  }

  /** Reports outages longer than `waitMs`, and failovers, to `events` until `stop`ped. */
  watch(waitMs: number, events: ConnectionEvents): OutageWatch {
    const watch = new OutageWatch(this.client, waitMs, events, () => this.#watches.delete(watch));
    this.#watches.add(watch);
    if (this.client.status !== "ready") watch.lost();
    return watch;
  }

  stop(): void {
    for (const watch of this.#watches) watch.stop();
    this.client.off("ready", this.#onReady);
    this.client.off("close", this.#onLost);
    this.client.off("end", this.#onLost);
    this.client.off("refresh", this.#onRefresh);
  }

  readonly #onReady = (): void => {
    this.epoch++;
    for (const watch of this.#watches) watch.ready();
    const address = this.masterAddress();
    if (address === undefined) return;
    if (this.master !== undefined && this.master !== address)
      this.#failedOver(this.master, address);
    this.master = address;
  };

  readonly #onRefresh = (): void => {
    const shards = new Map<string, Set<string>>();
    for (const [master, ...replicas] of (this.client as Cluster).slots) {
      if (master === undefined) continue;
      let known = shards.get(master);
      if (known === undefined) shards.set(master, (known = new Set()));
      for (const replica of replicas) known.add(replica);
    }
    for (const [previous, replicas] of this.#shards) {
      if (shards.has(previous)) continue;
      const promoted = [...replicas].find((replica) => shards.has(replica));
      // A master gone without a replica promoted yet is kept until one is.
      if (promoted === undefined) shards.set(previous, replicas);
      else this.#failedOver(previous, promoted);
    }
    this.#shards = shards;
  };

  #failedOver(from: string, to: string): void {
    const event = { from, to, at: new Date() };
    this.lastFailoverAt = event.at;
    log("failover seen: master moved from %s to %s", from, to);
    for (const watch of this.#watches) watch.events.failover(event);
  }

  readonly #onLost = (): void => {
    for (const watch of this.#watches) watch.lost();
  };
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
