import type { LanePool } from "./WriterLane.js";

/**
 * Where a durable write goes: the writer connections of the master that owns its key, on which
 * a WAIT confirms it. One pool on a single node or Sentinel; one per master on a Cluster.
 */
export interface LaneRouter {
  /** The pool of the master that owns `key`, or undefined while no master is known for it. */
  poolFor(key: string): LanePool | undefined;
  /**
   * Which writes one script call may take together: those whose keys have the same group (a
   * Cluster slot: a script's keys must share one; every key on a node).
   */
  groupOf(key: string): number;
  /** Replicas the master owning `key` has, where the topology says; undefined where it does not. */
  replicasOf(key: string): number | undefined;
  /**
   * The replicas (`host:port`) that could be promoted in place of `pool`'s master, which a write
   * of `key` went to: on a Cluster the slot's replicas, while the slot map names that master;
   * none where the topology does not say (a single node). Undefined while not known.
   */
  promotable(key: string, pool: LanePool): ReadonlySet<string> | undefined;
  /** A replica's `ip:port` as its master reports it, as the topology's address map has it. */
  mapAddress(address: string): string;
  /** A write met a moved slot or a lost master: look the masters up again. */
  reroute(): void;
  close(): Promise<void>;
}

/** No replica known to the topology: the master's online replicas are waited for. */
const NONE: ReadonlySet<string> = new Set();

/** The one pool of a topology with one master at a time. */
export class SinglePoolRouter implements LaneRouter {
  constructor(private readonly pool: LanePool) {}

  poolFor(): LanePool {
    return this.pool;
  }

  groupOf(): number {
    return 0;
  }

  replicasOf(): undefined {
    return undefined;
  }

  promotable(): ReadonlySet<string> {
    return NONE;
  }

  mapAddress(address: string): string {
    return address;
  }

  reroute(): void {
    // One master, followed by the client itself (Sentinel's switch-master, a reconnection).
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
