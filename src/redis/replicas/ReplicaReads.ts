import { setTimeout as delay } from "node:timers/promises";
import type { Redis } from "ioredis";
import { duplicateClient, replicaConnection } from "../createRedisClient.js";
import { CorkedCommands } from "../connection/CorkedCommands.js";
import { debugFor } from "../debug.js";
import { connectedReplicas } from "../writes/WriterLane.js";
import { addressOf } from "../sentinel/SentinelWatch.js";
import type { ReplicaRouter } from "./ReplicaRouter.js";

const log = debugFor("redis");

/** How often the master's and each replica's replication offsets are asked for (ROLE). */
const POLL_MS = 100;
/**
 * A replica is read only if it has applied what the master had this long ago (and what the
 * reader's own last acknowledged write needs): a replica lagging by more is passed over, and a
 * logout that some replica did not confirm waits this long (plus a poll) before it is answered,
 * so that no instance can read the session from that replica afterwards.
 */
export const FRESHNESS_MS = 200;
/** Reads within one slice of this many ms go to the same replica, when it qualifies. */
const SLICE_MS = 5;
/** Replica offsets older than this are not trusted (its poll stopped answering). */
const STALE_POLL_MS = 3 * POLL_MS;

interface ReplicaState {
  connection: Redis;
  /** Reads on it, corked as the master's are (see CorkedCommands). */
  commands: CorkedCommands;
  /** The replication offset it has applied, as of `polledAt`; -1 unknown. */
  offset: number;
  polledAt: number;
  linked: boolean;
  polling: boolean;
}

/**
 * Reads from the replicas of one master that are connected and caught up (`readFrom:
 * "replica"`): a Sentinel topology's, or one Cluster shard's. Every 100 ms it asks the master for its replication offset and replicas (ROLE), and
 * each replica for the offset it has applied (ROLE). A read goes to a replica whose
 * applied offset has reached both the reader's causal token (the master's offset after its last
 * acknowledged write, from its cookie) and the master's offset of FRESHNESS_MS ago; otherwise to
 * the master.
 */
export class ReplicaReads implements ReplicaRouter {
  readonly #replicas = new Map<string, ReplicaState>();
  /** The same replicas, as an array for `pick`. */
  #list: ReplicaState[] = [];
  /** The master's offsets as polled: [time, offset], oldest first, about a second of them. */
  #history: [number, number][] = [];
  #master: string | undefined;
  readonly #timer: NodeJS.Timeout;
  #polling = false;

  /** Replica reads for a Sentinel client this library made. */
  static of(client: Redis): ReplicaReads {
    return new ReplicaReads(duplicateClient(client), (host, port) =>
      replicaConnection(client.options, host, port),
    );
  }

  constructor(
    /** A connection of its own to the master (ROLE, and confirmed destroys). */
    readonly master: Redis,
    private readonly open: (host: string, port: number) => Redis,
  ) {
    this.#timer = setInterval(() => void this.#poll(), POLL_MS);
    this.#timer.unref();
  }

  /** The commands of a replica that may serve a read needing `token`, if one may. */
  pick(token: number): CorkedCommands | undefined {
    const now = Date.now();
    const floor = this.#masterOffsetAt(now - FRESHNESS_MS);
    if (floor === undefined) return undefined;
    const needed = Math.max(floor, token);
    // The first that qualifies, starting at the replica of this 5 ms slice: reads spread over the
    // replicas, while those of one moment go on one connection together (corked, one write),
    // as they do on the master; nothing allocated.
    const replicas = this.#list;
    const start = Math.floor(now / SLICE_MS) % replicas.length;
    for (let i = 0; i < replicas.length; i++) {
      const replica = replicas[(start + i) % replicas.length];
      if (
        replica !== undefined &&
        replica.linked &&
        replica.offset >= needed &&
        now - replica.polledAt <= STALE_POLL_MS &&
        replica.connection.status === "ready"
      ) {
        return replica.commands;
      }
    }
    return undefined;
  }

  /**
   * Runs a deletion (a logout) on the reader's master connection, then makes sure no replica can
   * serve what it deleted: it waits (WAIT, 100 ms) for every replica connected now, and if one
   * did not confirm, long enough that every instance passes it over until it has.
   */
  async confirmedByAll<T>(run: (master: Redis) => Promise<T>): Promise<T> {
    const result = await run(this.master);
    const replicas = await connectedReplicas(this.master);
    const confirmed = Number(await this.master.call("WAIT", replicas, POLL_MS));
    if (confirmed < replicas) await delay(FRESHNESS_MS + POLL_MS);
    return result;
  }

  close(): void {
    clearInterval(this.#timer);
    for (const { connection } of this.#replicas.values()) connection.disconnect();
    this.#replicas.clear();
    this.#list = [];
    this.master.disconnect();
  }

  /** The latest master offset polled at or before `at`, if that poll is recent enough. */
  #masterOffsetAt(at: number): number | undefined {
    let found: [number, number] | undefined;
    for (const entry of this.#history) {
      if (entry[0] > at) break;
      found = entry;
    }
    return found !== undefined && at - found[0] <= STALE_POLL_MS ? found[1] : undefined;
  }

  async #poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      const [role, offset, replicas] = (await this.master.call("ROLE")) as [
        string,
        number,
        [string, string, string][]?,
      ];
      const master = addressOf(this.master);
      if (role !== "master" || master !== this.#master) {
        // Not the master (any more), or another one: nothing read before counts.
        this.#history = [];
        this.#master = role === "master" ? master : undefined;
        if (role !== "master") return;
      }
      const now = Date.now();
      this.#history.push([now, offset]);
      while ((this.#history[0]?.[0] ?? now) < now - 1_000) this.#history.shift();
      this.#track((replicas ?? []).map(([host, port]) => `${host}:${port}`));
      this.#list = [...this.#replicas.values()];
      for (const replica of this.#replicas.values()) void this.#pollReplica(replica);
    } catch (error) {
      this.#history = [];
      log("replica reads: the master did not answer ROLE: %s", (error as Error).message);
    } finally {
      this.#polling = false;
    }
  }

  /** Opens connections to replicas the master lists, closes those to replicas it no longer does. */
  #track(addresses: string[]): void {
    const listed = new Set(addresses);
    for (const [address, replica] of this.#replicas) {
      if (!listed.has(address)) {
        replica.connection.disconnect();
        this.#replicas.delete(address);
      }
    }
    for (const address of listed) {
      if (this.#replicas.has(address)) continue;
      const at = address.lastIndexOf(":");
      const connection = this.open(address.slice(0, at), Number(address.slice(at + 1)));
      this.#replicas.set(address, {
        connection,
        commands: new CorkedCommands(connection),
        offset: -1,
        polledAt: 0,
        linked: false,
        polling: false,
      });
    }
  }

  async #pollReplica(replica: ReplicaState): Promise<void> {
    if (replica.polling || replica.connection.status !== "ready") return;
    replica.polling = true;
    try {
      const role = (await replica.connection.call("ROLE")) as [
        string,
        string,
        number,
        string,
        number,
      ];
      replica.linked = role[0] === "slave" && role[3] === "connected";
      replica.offset = replica.linked ? role[4] : -1;
      replica.polledAt = Date.now();
    } catch {
      replica.linked = false;
    } finally {
      replica.polling = false;
    }
  }
}
