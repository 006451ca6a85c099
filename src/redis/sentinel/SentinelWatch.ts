import type { NatMap, Redis, RedisOptions } from "ioredis";
import { debugFor } from "../debug.js";
import { sentinelConnection } from "./sentinelConnection.js";
import { SentinelQuorum } from "./SentinelQuorum.js";

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
  #quorum: SentinelQuorum | undefined;
  #userMap: NatMap | undefined;

  constructor(private readonly options: RedisOptions) {}

  /**
   * The Sentinel majority this topology's durable writes are acknowledged under (see
   * SentinelQuorum), asked from the first call on. A master it names that a connection is not on
   * is followed as an announcement would be.
   */
  quorum(): SentinelQuorum {
    this.#quorum ??= new SentinelQuorum(
      this.options,
      (address) => this.#mapped(address),
      (to, from) => {
        this.#follow(to, from);
      },
    );
    return this.#quorum;
  }

  /** `host:port` after the user's natMap. */
  #mapped(address: string): string {
    const userMap = this.#userMap;
    const mapped = typeof userMap === "function" ? userMap(address) : userMap?.[address];
    return mapped === null || mapped === undefined ? address : `${mapped.host}:${mapped.port}`;
  }

  /**
   * The `natMap` for the connections' options: a Sentinel's answer that names the master just
   * replaced becomes the announced one; then the user's own `natMap`, if any, applies.
   */
  natMap(userMap: NatMap | undefined): NatMap {
    this.#userMap = userMap;
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
    this.#quorum?.close();
    this.#quorum = undefined;
    for (const connection of this.#subscribers.splice(0)) connection.disconnect();
  }

  #subscribe(): void {
    for (const sentinel of this.options.sentinels ?? []) {
      const { host = "127.0.0.1", port = 26379 } = sentinel;
      // No command timeout: a SUBSCRIBE queued until a cut-off Sentinel is reachable must stay
      // queued, or ioredis would not subscribe again on reconnecting.
      const subscriber = sentinelConnection(this.options, sentinel, "subscription", {
        maxRetriesPerRequest: null,
      });
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
    log("Sentinel announced a new master %s (was %s)", to, from);
    this.#follow(to, from);
    // Writes on the new master are acknowledged once the quorum knows it: ask now.
    this.#quorum?.refresh();
  }

  /**
   * Sends every connection to `to`; for 10 s a Sentinel answer naming `from` (the master
   * replaced, when known) is overruled.
   */
  #follow(to: string, from: string): void {
    this.#latest = { from, to, at: Date.now() };
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

/** `ip:port` of the server a connection's socket is connected to. */
export function addressOf(connection: Redis): string | undefined {
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
