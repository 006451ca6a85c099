import { Redis } from "ioredis";
import type { NatMap, RedisOptions } from "ioredis";
import { debugFor } from "../debug.js";

const log = debugFor("redis");

/** A master change as Sentinel announced it: addresses as `host:port`, when it was received. */
export interface MasterSwitch {
  from: string;
  to: string;
  at: number;
}

/**
 * How long an announcement overrides what a Sentinel answers. A Sentinel that was not the
 * failover's leader learns of it from the leader's hello messages, sent every 2 s; until then it
 * still names the old master.
 */
const ANNOUNCEMENT_MS = 10_000;

/** How often the replicas Sentinel lists are counted again, once someone asks for them. */
const REPLICA_POLL_MS = 1_000;

/**
 * Follows Sentinel's `+switch-master` for the connections of one topology (the store's main
 * client and its writer connections) and moves them to the new master the moment it is
 * announced.
 *
 * It replaces ioredis' `failoverDetector`, which has two faults this library cannot live with:
 * - it calls the connector's `disconnect()` on the announcement; when that lands while a
 *   reconnecting connection is waiting for a Sentinel's answer, ioredis' SentinelConnector throws
 *   "Connection is closed." from `connect()` and the client goes to status `end` for good (no
 *   reconnection, every command fails);
 * - a connection waiting out its reconnect back-off (up to 1 s by then) keeps waiting, and one
 *   frozen in its handshake with a master that is frozen too is only left 2 s later
 *   (`disconnectTimeout`), because `stream.end()` waits for the dead peer.
 *
 * Here a connection on the old master is cut at once and reconnects at once; one in back-off
 * reconnects at once; and for a while after the announcement, a Sentinel that still names the
 * master the failover left is overruled (through the connector's `natMap` hook), so the
 * connection goes where the announcement says rather than to the old master again.
 */
export class SentinelWatch {
  #latest: MasterSwitch | undefined;
  readonly #connections = new Set<Redis>();
  readonly #subscribers: Redis[] = [];
  /** Connections that ask the Sentinels for the master's replicas (only for "all"). */
  readonly #askers: Redis[] = [];
  #poller: NodeJS.Timeout | undefined;
  #knownReplicas: number | undefined;

  constructor(private readonly options: RedisOptions) {}

  /**
   * How many replicas the master should have: the most any Sentinel lists for it, connected or
   * not (`SENTINEL REPLICAS`), polled every second from the first call on. Sentinel keeps a
   * replica listed while it is down, and lists the replaced master as a replica after a
   * failover. Undefined until a Sentinel has answered; the last answer stays while none does
   * (a side cut off from every Sentinel keeps requiring what it last knew).
   */
  knownReplicas(): number | undefined {
    if (this.#poller === undefined) {
      this.#poller = setInterval(() => void this.#countReplicas(), REPLICA_POLL_MS).unref();
      void this.#countReplicas();
    }
    return this.#knownReplicas;
  }

  async #countReplicas(): Promise<void> {
    if (this.#askers.length === 0) {
      for (const sentinel of this.options.sentinels ?? []) {
        const asker = this.#sentinelConnection(sentinel, "replica count");
        this.#askers.push(asker);
      }
    }
    const counts = await Promise.all(
      this.#askers.map((asker) =>
        asker.call("SENTINEL", "REPLICAS", this.options.name ?? "").then(
          (reply) => (Array.isArray(reply) ? reply.length : undefined),
          () => undefined,
        ),
      ),
    );
    const answered = counts.filter((count) => count !== undefined);
    if (answered.length > 0) this.#knownReplicas = Math.max(...answered);
  }

  /**
   * The `natMap` for the connections' options: a Sentinel's answer that names the master just
   * replaced becomes the announced one; then the user's own `natMap`, if any, applies.
   */
  natMap(userMap: NatMap | undefined): NatMap {
    return (key: string) => {
      const address = this.#replaced(key) ? (this.#latest?.to ?? key) : key;
      const mapped = typeof userMap === "function" ? userMap(address) : userMap?.[address];
      return mapped ?? (address === key ? null : parseAddress(address));
    };
  }

  /** Moves `connection` on announcements from now on, until it ends. */
  track(connection: Redis): void {
    if (this.#subscribers.length === 0) this.#subscribe();
    this.#connections.add(connection);
    connection.on("connect", () => {
      // An attempt that was resolved before the announcement may have reached the old master
      // (alive, or frozen and answering nothing): cut it, and let the back-off apply, so that a
      // missed later announcement (that master promoted again) cannot make connections spin.
      if (this.#replaced(addressOf(connection))) connection.stream.destroy();
    });
    connection.once("end", () => {
      this.#connections.delete(connection);
      if (this.#connections.size === 0) this.close();
    });
  }

  /** Whether `address` is the master the last announcement, less than 10 s ago, replaced. */
  #replaced(address: string | undefined): boolean {
    const latest = this.#latest;
    if (latest === undefined) return false;
    return address === latest.from && Date.now() - latest.at < ANNOUNCEMENT_MS;
  }

  close(): void {
    clearInterval(this.#poller);
    for (const connection of [...this.#subscribers.splice(0), ...this.#askers.splice(0)]) {
      connection.disconnect();
    }
  }

  /**
   * A connection to one Sentinel, with the topology's credentials and timeouts. Not for the
   * subscriptions the command timeout: a SUBSCRIBE queued until a cut-off Sentinel is reachable
   * must stay queued, or ioredis would not subscribe again on reconnecting.
   */
  #sentinelConnection(
    { host = "127.0.0.1", port = 26379 }: { host?: string; port?: number },
    purpose: "subscription" | "replica count",
  ): Redis {
    const { sentinelUsername, sentinelPassword, sentinelTLS } = this.options;
    const connection = new Redis({
      host,
      port,
      username: sentinelUsername ?? undefined,
      password: sentinelPassword ?? undefined,
      tls: sentinelTLS,
      enableReadyCheck: false,
      connectTimeout: this.options.connectTimeout,
      commandTimeout:
        purpose === "subscription" ? undefined : (this.options.sentinelCommandTimeout ?? undefined),
      maxRetriesPerRequest: purpose === "subscription" ? null : 0,
      retryStrategy: this.options.sentinelReconnectStrategy ?? undefined,
    });
    connection.on("error", (error: Error) => {
      log("Sentinel %s:%d (%s): %s", host, port, purpose, error.message);
    });
    return connection;
  }

  #subscribe(): void {
    for (const sentinel of this.options.sentinels ?? []) {
      const { host = "127.0.0.1", port = 26379 } = sentinel;
      const subscriber = this.#sentinelConnection(sentinel, "subscription");
      subscriber.on("message", (_channel: string, message: string) => {
        this.#announced(message);
      });
      subscriber.subscribe("+switch-master").catch((error: unknown) => {
        log("could not subscribe to +switch-master on %s:%d: %s", host, port, String(error));
      });
      this.#subscribers.push(subscriber);
    }
  }

  /** `<name> <old ip> <old port> <new ip> <new port>`, published by every Sentinel in turn. */
  #announced(message: string): void {
    const [name, fromHost, fromPort, toHost, toPort] = message.split(" ");
    if (name !== this.options.name || toPort === undefined) return;
    const from = `${fromHost}:${fromPort}`;
    const to = `${toHost}:${toPort}`;
    const latest = this.#latest;
    // Each Sentinel announces the same switch once it learns of it: act on the first.
    if (latest?.to === to && Date.now() - latest.at < ANNOUNCEMENT_MS) return;
    this.#latest = { from, to, at: Date.now() };
    log("Sentinel announced a new master %s (was %s)", to, from);
    for (const connection of this.#connections) move(connection, to);
  }
}

/** Sends a connection to the announced master now, whatever it is doing. */
function move(connection: Redis, to: string): void {
  switch (connection.status) {
    case "reconnecting":
      // Waiting out its back-off: connect now (the pending timer's later connect() finds it
      // connected and does nothing).
      connection.connect().catch(ignore);
      break;
    case "connect":
    case "ready":
      if (addressOf(connection) !== to) reconnectNow(connection);
      break;
    default:
    // "connecting": still resolving, the natMap hook corrects the answer, or connecting to the
    // old master, which the "connect" check catches. "wait", "close", "end": nothing to move.
  }
}

/**
 * Cuts the connection and reconnects without back-off. `destroy`, not ioredis' `disconnect()`:
 * that ends the stream gracefully, which a frozen master never acknowledges.
 */
function reconnectNow(connection: Redis): void {
  connection.once("reconnecting", () => {
    connection.connect().catch(ignore);
  });
  connection.stream.destroy();
}

function addressOf(connection: Redis): string | undefined {
  const { remoteAddress, remotePort } = connection.stream;
  return remoteAddress === undefined ? undefined : `${remoteAddress}:${String(remotePort)}`;
}

function parseAddress(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(":");
  return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
}

function ignore(): void {
  // connect() rejects when the connection is already on its way; nothing to do then.
}
