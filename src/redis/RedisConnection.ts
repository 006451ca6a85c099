import type { Cluster, Redis } from "ioredis";
import type { Backend } from "./backend/Backend.js";
import { backendFor } from "./backend/backendFor.js";
import { ConnectionMonitor } from "./ConnectionMonitor.js";
import { clientFor } from "./createRedisClient.js";
import { ServerClock } from "./ServerClock.js";
import type { ParsedTopology } from "./topology.js";
import type { LaneRouter } from "./LaneRouter.js";

/** The connection set of each client in use, so that every user of a client shares one. */
const sets = new WeakMap<Redis | Cluster, RedisConnection>();

/**
 * One connection set: the client, its topology's backend, the monitor of its connection, the
 * server's clock, and the writer connections durable writes are confirmed on. Every session
 * store and cache given the same client (from `createRedisClient`, or a store's `client`) shares
 * one set; it is reference-counted and closed when its last user is: the monitor stops, the
 * writer connections close, and the client closes too if the set created it (whoever created a
 * connection closes it).
 */
export class RedisConnection {
  readonly backend: Backend;
  readonly monitor: ConnectionMonitor;
  /** The server's clock as seen on the client's connection. */
  readonly clock: ServerClock;
  #users = 1;
  #lanes: LaneRouter | undefined;

  private constructor(
    readonly client: Redis | Cluster,
    private readonly ownsClient: boolean,
  ) {
    this.backend = backendFor(client);
    this.monitor = new ConnectionMonitor(client, () => this.backend.masterAddress());
    this.clock = new ServerClock(client, () => this.monitor.epoch);
  }

  /**
   * The set of the topology's client, shared with its other users when it is a client passed in
   * that a set already exists for; a new set (and client) otherwise. `release` it when done.
   */
  static acquire(topology: ParsedTopology): RedisConnection {
    if (topology.kind === "client") {
      const shared = sets.get(topology.client);
      if (shared !== undefined) {
        shared.#users++;
        return shared;
      }
    }
    const set = new RedisConnection(clientFor(topology), topology.kind !== "client");
    sets.set(set.client, set);
    return set;
  }

  /** The writer connections (opened on first use: a set without durable writes has none). */
  lanes(): LaneRouter {
    this.#lanes ??= this.backend.openLanes();
    return this.#lanes;
  }

  /** One user is done with the set; the last closes it. */
  async release(): Promise<void> {
    if (--this.#users > 0) return;
    sets.delete(this.client);
    this.monitor.stop();
    await this.#lanes?.close();
    if (!this.ownsClient || this.client.status === "end") return;
    // QUIT waits its turn behind what is queued: on a client that is not connected (Redis
    // unreachable) it would wait for ever.
    if (this.client.status === "ready") await this.client.quit();
    else this.client.disconnect();
  }
}
