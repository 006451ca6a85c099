import type { Cluster, Redis } from "ioredis";
import { nodeConnection } from "../cluster/nodeConnection.js";
import { seedsOf } from "../createRedisClient.js";
import { RetryableError } from "../../errors/internal/RetryableError.js";
import type { CommandArgs } from "../connection/CorkedCommands.js";
import { scanNode } from "./scan.js";
import type { BoundStep } from "./scan.js";
import { runScript } from "../scripts.js";
import type { Script } from "../scripts.js";
import type { Backend, ShardHealth } from "./Backend.js";
import { ClusterLanes } from "../cluster/ClusterLanes.js";
import type { LaneRouter } from "../writes/LaneRouter.js";
import { ClusterReplicaReads } from "../replicas/ClusterReplicaReads.js";
import type { ReplicaRouter } from "../replicas/ReplicaRouter.js";

/** A subscriber's node that does not answer the connection is given up after this. */
const SUBSCRIBER_CONNECT_TIMEOUT_MS = 1_000;

/**
 * A Redis Cluster: commands routed by key slot through ioredis' Cluster client, scans over every
 * master, durable writes on writer connections to each slot's master.
 */
export class ClusterBackend implements Backend {
  readonly kind = "cluster";
  readonly keysTogether = false;
  readonly sentinelWatch = undefined;

  constructor(readonly client: Cluster) {}

  openLanes(): LaneRouter {
    return new ClusterLanes(this.client);
  }

  openReplicaReads(): ReplicaRouter {
    return new ClusterReplicaReads(this.client);
  }

  /**
   * A connection to one node of the Cluster (messages published anywhere reach every node), not
   * reconnected: ioredis' Cluster moves its own subscriber to another node without a word when
   * its node goes, and messages published meanwhile are lost unseen; this one ends instead, and
   * its user opens another.
   */
  openSubscriber(): Redis {
    const nodes = this.client.nodes("all").map(({ options }) => `${options.host}:${options.port}`);
    const addresses = nodes.length > 0 ? nodes : (seedsOf(this.client) ?? []);
    const address = addresses[Math.floor(Math.random() * addresses.length)] ?? "127.0.0.1:6379";
    return nodeConnection(this.client, address, "subscriber", {
      connectTimeout: SUBSCRIBER_CONNECT_TIMEOUT_MS,
    });
  }

  send(command: string, args: CommandArgs): Promise<unknown> {
    return this.client.call(command, ...args.flat()).catch(this.#explained);
  }

  runScript(
    script: Script,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    return runScript(this.client, script, keys, args).catch(this.#explained);
  }

  /**
   * ioredis' "None of startup nodes is available" as an error naming them; retried until the wait
   * bound like any connection error (the nodes may be starting).
   */
  readonly #explained = (error: unknown): never => {
    if (error instanceof Error && error.message.startsWith("None of startup nodes")) {
      const nodes = seedsOf(this.client)?.join(", ") ?? "the seed nodes given";
      throw new RetryableError(`no node of the Cluster answered (tried ${nodes})`, {
        cause: error,
      });
    }
    throw error;
  };

  /**
   * Every master that owns a slot, once the slot map covers every slot (within `bound`): before
   * the client knows the Cluster, or while a shard has no master, a walk would leave out keys
   * and answer as if they were not there.
   */
  async *scan(pattern: string, bound: BoundStep): AsyncGenerator<string[]> {
    // A promise, so that a map not known yet rejects (and is retried) rather than throws.
    const masters = await bound(
      "key scan",
      () =>
        new Promise<Redis[]>((resolve) => {
          resolve(this.#slotMasters());
        }),
    );
    for (const node of masters) yield* scanNode(node, pattern, bound);
  }

  #slotMasters(): Redis[] {
    const { slots } = this.client;
    const owners = new Set<string>();
    for (let slot = 0; slot < 16_384; slot++) {
      const owner = slots[slot]?.[0];
      if (owner === undefined) {
        this.client.refreshSlotsCache();
        const nodes = seedsOf(this.client)?.join(", ") ?? "the seed nodes given";
        throw new RetryableError(
          `the Cluster's slot map does not cover slot ${slot} (no master known for it; seeds ${nodes})`,
        );
      }
      owners.add(owner);
    }
    const masters = this.client.nodes("master");
    const byAddress = new Map(
      masters.map((node) => [`${node.options.host ?? ""}:${node.options.port ?? ""}`, node]),
    );
    return [...owners].map((owner) => {
      const node = byAddress.get(owner);
      if (node === undefined)
        throw new RetryableError(`no connection to ${owner}, a slot's master`);
      return node;
    });
  }

  shards(): ShardHealth[] {
    const replicas = new Map<string, number>();
    for (const nodes of this.client.slots) {
      const [master] = nodes;
      if (master === undefined) continue;
      replicas.set(master, Math.max(replicas.get(master) ?? 0, nodes.length - 1));
    }
    return [...replicas]
      .map(([master, count]) => ({ master, replicas: count }))
      .sort((a, b) => a.master.localeCompare(b.master));
  }

  masterAddress(): undefined {
    return undefined;
  }

  /** No single master answers for a Cluster; a PING says it is reachable. */
  async replicationInfo(): Promise<undefined> {
    await this.client.ping().catch(this.#explained);
    return undefined;
  }
}
