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
   * The replicas (`host:port`) of the master owning `key` where the topology says (a Cluster's
   * slot map); undefined where it does not.
   */
  replicaAddressesOf(key: string): ReadonlySet<string> | undefined;
  /** A replica's `ip:port` as its master reports it, as the topology's address map has it. */
  mapAddress(address: string): string;
  /** A write met a moved slot or a lost master: look the masters up again. */
  reroute(): void;
  close(): Promise<void>;
}

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

  replicaAddressesOf(): undefined {
    return undefined;
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
