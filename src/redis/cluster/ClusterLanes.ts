import type { Cluster, Redis } from "ioredis";
import { nodeConnection, slotMasters } from "./nodeConnection.js";
import { debugFor } from "../debug.js";
import type { LaneRouter } from "../writes/LaneRouter.js";
import { LanePool } from "../writes/WriterLane.js";
import { keySlot } from "./keySlot.js";

const log = debugFor("redis");

/**
 * A writer connection that hears nothing this long after sending is given up (a frozen master):
 * its writes fail over to whichever master owns their slot next. Longer than any WAIT it carries
 * (`durability.timeoutMs`, 100 ms by default, and each repeat at most that).
 */
const LANE_SOCKET_TIMEOUT_MS = 2000;
/** Connecting to a master that is gone or frozen is given up after this. */
const LANE_CONNECT_TIMEOUT_MS = 1000;

/**
 * The writer connections of a Cluster: a pool per master, found by the slot of a write's key in
 * the client's slot map (a keyless WAIT through ioredis' Cluster goes to any master and confirms
 * nothing). A connection is not re-established: once it closes (its master died, froze, or was
 * demoted and dropped from the slot map) its pool is dropped, and the next write to that slot
 * opens one to whichever master owns it then.
 */
export class ClusterLanes implements LaneRouter {
  readonly #pools = new Map<string, LanePool>();

  constructor(private readonly cluster: Cluster) {
    cluster.on("refresh", this.#prune);
  }

  poolFor(key: string): LanePool | undefined {
    const owner = this.cluster.slots[keySlot(key)]?.[0];
    if (owner === undefined) {
      this.reroute();
      return undefined;
    }
    let pool = this.#pools.get(owner);
    if (pool === undefined) {
      const created: LanePool = new LanePool(() => this.#open(owner, () => created), owner);
      pool = created;
      this.#pools.set(owner, pool);
    }
    return pool;
  }

  groupOf(key: string): number {
    return keySlot(key);
  }

  replicasOf(key: string): number | undefined {
    const nodes = this.cluster.slots[keySlot(key)];
    return nodes === undefined ? undefined : nodes.length - 1;
  }

  promotable(key: string, pool: LanePool): ReadonlySet<string> | undefined {
    const nodes = this.cluster.slots[keySlot(key)];
    // The slot map names another master for the key: the pool's master was replaced (a frozen
    // one that woke up), and what its replicas are no longer says anything.
    if (nodes === undefined || nodes[0] !== pool.address) return undefined;
    return new Set(nodes.slice(1));
  }

  mapAddress(address: string): string {
    const { natMap } = this.cluster.options;
    const mapped = typeof natMap === "function" ? natMap(address) : natMap?.[address];
    return mapped === null || mapped === undefined ? address : `${mapped.host}:${mapped.port}`;
  }

  reroute(): void {
    this.cluster.refreshSlotsCache();
  }

  async close(): Promise<void> {
    this.cluster.off("refresh", this.#prune);
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((pool) => pool.close()));
  }

  /** Drops the pools of nodes that own no slot any more. */
  readonly #prune = (): void => {
    const masters = slotMasters(this.cluster);
    for (const [address, pool] of this.#pools) {
      if (!masters.has(address)) this.#drop(address, pool);
    }
  };

  #drop(address: string, pool: LanePool): void {
    if (this.#pools.get(address) !== pool) return;
    this.#pools.delete(address);
    log("writer connections to %s dropped", address);
    void pool.close();
  }

  /** One writer connection to `address`; when it closes, its pool is dropped. */
  #open(address: string, pool: () => LanePool): Redis {
    // Never reconnected (see the class): what was queued or in flight fails, and is retried on
    // the slot's master then.
    const connection = nodeConnection(this.cluster, address, "writer", {
      maxRetriesPerRequest: null,
      enableAutoPipelining: false,
      connectTimeout: LANE_CONNECT_TIMEOUT_MS,
      socketTimeout: LANE_SOCKET_TIMEOUT_MS,
    });
    connection.on("close", () => this.#drop(address, pool()));
    return connection;
  }
}
