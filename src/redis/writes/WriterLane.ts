import type { Redis } from "ioredis";
import { CorkedCommands } from "../connection/CorkedCommands.js";
import { ServerClock } from "../connection/ServerClock.js";

/** One writer connection and what is known of it. */
export class WriterLane {
  readonly connection: Redis;
  readonly commands: CorkedCommands;
  /** Counts (re)connections, to tell whether a write and its WAIT met one master. */
  epoch = 0;
  /** A batch is in flight: its WAIT holds the connection. */
  busy = false;
  /** The server's clock, for the writes' deadlines. */
  readonly clock: ServerClock;

  constructor(connection: Redis) {
    this.connection = connection;
    this.connection.on("ready", () => this.epoch++);
    this.commands = new CorkedCommands(this.connection);
    this.clock = new ServerClock(this.connection, () => this.epoch);
  }
}

/** Writer connections. While one batch waits for its replicas, the next goes out on the other. */
const LANES = 2;

/**
 * The writer connections of one connection set, shared by every durable writer on it (a session
 * store's and a cache's): each takes a free lane for a batch; a lane freed wakes them all.
 */
export class LanePool {
  readonly #lanes: WriterLane[];
  readonly #waiting = new Set<() => void>();

  /**
   * `open` makes one writer connection to the master (a duplicate of the client, on a node);
   * `address` names that master where the pool is for one master only (a Cluster's).
   */
  constructor(
    open: () => Redis,
    readonly address?: string,
  ) {
    this.#lanes = Array.from({ length: LANES }, () => new WriterLane(open()));
  }

  /** A lane no batch holds, if there is one. */
  free(): WriterLane | undefined {
    return this.#lanes.find(({ busy }) => !busy);
  }

  /** Calls `dispatch` whenever a lane may have become free, until the returned function is called. */
  subscribe(dispatch: () => void): () => void {
    this.#waiting.add(dispatch);
    return () => this.#waiting.delete(dispatch);
  }

  /** Tells every writer a lane may be free. */
  notify(): void {
    for (const dispatch of this.#waiting) dispatch();
  }

  /** Closed: its connections are gone, and a writer on it should be dropped. */
  closed = false;

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      this.#lanes.map(async ({ connection }) => {
        if (connection.status === "end") return;
        // A connection whose master is gone cannot say QUIT: it is just dropped.
        await connection.quit().catch(() => connection.disconnect());
      }),
    );
  }
}

/** Replicas connected to the master, from ROLE (which does not block). */
export async function connectedReplicas(connection: Redis): Promise<number> {
  const role = (await connection.call("ROLE")) as [string, number, unknown[]?];
  return role[0] === "master" ? (role[2]?.length ?? 0) : 0;
}
