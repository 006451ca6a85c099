import type { Cluster, Redis } from "ioredis";
import type { Backend } from "./backend/Backend.js";
import { backendFor } from "./backend/backendFor.js";
import { ConnectionMonitor } from "./connection/ConnectionMonitor.js";
import { clientFor, seedsOf } from "./createRedisClient.js";
import { replicationHealth } from "./health.js";
import { Notices } from "./connection/Notices.js";
import type { Logger } from "./connection/Notices.js";
import { ServerClock } from "./connection/ServerClock.js";
import type { ParsedTopology } from "./options/ParsedTopology.js";
import type { LaneRouter } from "./writes/LaneRouter.js";

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
  /** What the set's operator is told without `DEBUG` (see Notices). */
  readonly notices = new Notices();
  /** Where the client connects, as notices name it. */
  readonly #place: Place;
  #users = 1;
  #lanes: LaneRouter | undefined;

  private constructor(
    readonly client: Redis | Cluster,
    private readonly ownsClient: boolean,
  ) {
    this.backend = backendFor(client);
    this.#place = placeOf(this.backend);
    this.monitor = new ConnectionMonitor(this.backend, this.#place.where, this.notices);
    this.clock = new ServerClock(client, () => this.monitor.epoch);
  }

  /**
   * A user's durability asks `required` replicas to confirm each of its writes: once the client
   * is connected, says so (once) if the master — on a Cluster, some shard's — has fewer in sync,
   * as every such write would wait for confirmations it cannot get and fail.
   */
  expectReplicas(required: number, consequence: string): void {
    const check = () => {
      void replicationHealth(this.backend, 2_000).then((health) => {
        if (!health.answered) return;
        const fewest = health.replicas;
        if (fewest === null || fewest >= required) return;
        this.notices.once(
          `\`durability.replicas\` is ${required}, but ${this.#place.master} has ` +
            `${fewest} replica${fewest === 1 ? "" : "s"} in sync: ${consequence} until ` +
            `${required} are — lower \`durability.replicas\` (0 where there is no replica) or ` +
            "add replicas",
          `replicas:${required}`,
        );
      });
    };
    if (this.client.status === "ready") check();
    else this.client.once("ready", check);
  }

  /**
   * The set of the topology's client, shared with its other users when it is a client passed in
   * that a set already exists for; a new set (and client) otherwise. The set's notices go to
   * `logger` too (see Notices) until the user `release`s it, as it must when done.
   */
  static acquire(topology: ParsedTopology, logger?: Logger): RedisConnection {
    let set = topology.kind === "client" ? sets.get(topology.client) : undefined;
    if (set === undefined) {
      set = new RedisConnection(clientFor(topology), topology.kind !== "client");
      sets.set(set.client, set);
    } else set.#users++;
    set.notices.add(logger);
    return set;
  }

  /** The writer connections (opened on first use: a set without durable writes has none). */
  lanes(): LaneRouter {
    this.#lanes ??= this.backend.openLanes();
    return this.#lanes;
  }

  /** One user (that gave `logger`) is done with the set; the last closes it. */
  async release(logger?: Logger): Promise<void> {
    this.notices.remove(logger);
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

/** Where a client connects, and its master as a notice names it (never a password). */
interface Place {
  where: string;
  master: string;
}

function placeOf({ kind, client }: Backend): Place {
  if (kind === "cluster") {
    const seeds = seedsOf(client as Cluster);
    const where = seeds === undefined ? "the Cluster" : `the Cluster of ${seeds.join(", ")}`;
    return { where, master: `a shard's master in ${where}` };
  }
  const { host, port, db, sentinels, name } = (client as Redis).options;
  // ioredis sets `sentinels` to null, not undefined, for a plain connection.
  if (Array.isArray(sentinels) && sentinels.length > 0) {
    const list = sentinels.map((sentinel) => `${sentinel.host ?? ""}:${sentinel.port ?? ""}`);
    const where = `Sentinel group "${name ?? ""}" (via ${list.join(", ")})`;
    return { where, master: `the master of ${where}` };
  }
  const where = `redis://${host ?? "localhost"}:${port ?? 6379}${db ? `/${db}` : ""}`;
  return { where, master: `the master at ${where}` };
}
