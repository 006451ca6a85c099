import type { Cluster, Redis } from "ioredis";
import { nodeConnection, slotMasters } from "../cluster/nodeConnection.js";
import { replicaConnection } from "../createRedisClient.js";
import type { CorkedCommands } from "../connection/CorkedCommands.js";
import { keySlot } from "../cluster/keySlot.js";
import { debugFor } from "../debug.js";
import { RetryableError } from "../../errors/internal/RetryableError.js";
import { ReplicaReads } from "./ReplicaReads.js";
import type { ReplicaRouter } from "./ReplicaRouter.js";

const log = debugFor("redis");

/** A master that does not answer the connection (gone, frozen) is given up after this. */
const MASTER_CONNECT_TIMEOUT_MS = 1000;
/** A master connection that hears nothing this long after sending is given up (frozen). */
const MASTER_SOCKET_TIMEOUT_MS = 2000;

/**
 * `readFrom: "replica"` on a Cluster: the rule of ReplicaReads, shard by shard. A read goes to a
 * replica of the master owning its key's slot (in the client's slot map) that has applied both
 * the reader's causal token — that master's offset after the reader's last acknowledged write: a
 * session's keys are in one slot, so its token always comes from the shard it reads from — and
 * what that master had 200 ms ago. Each master is polled on a connection of its own, which is
 * not re-established: once it closes (the master died or was demoted) the shard's state is
 * dropped, and the next read of one of its slots starts over on whichever master owns it then
 * (reading from that master until its replicas have been polled).
 */
export class ClusterReplicaReads implements ReplicaRouter {
  readonly #shards = new Map<string, ReplicaReads>();

  constructor(private readonly cluster: Cluster) {
    cluster.on("refresh", this.#track);
    this.#track();
  }

  pick(token: number, key: string): CorkedCommands | undefined {
    return this.#shardOf(key)?.pick(token);
  }

  confirmedByAll<T>(run: (master: Redis) => Promise<T>, key: string): Promise<T> {
    const shard = this.#shardOf(key);
    if (shard === undefined) {
      this.cluster.refreshSlotsCache();
      return Promise.reject(new RetryableError("no master is known for the key's slot yet"));
    }
    return shard.confirmedByAll(run);
  }

  close(): void {
    this.cluster.off("refresh", this.#track);
    for (const shard of this.#shards.values()) shard.close();
    this.#shards.clear();
  }

  #shardOf(key: string): ReplicaReads | undefined {
    const owner = this.cluster.slots[keySlot(key)]?.[0];
    return owner === undefined ? undefined : this.#shard(owner);
  }

  /** The shard of master `owner`, polled from now on. */
  #shard(owner: string): ReplicaReads {
    let shard = this.#shards.get(owner);
    if (shard === undefined) {
      const created: ReplicaReads = new ReplicaReads(
        this.#master(owner, () => created),
        (host, port) =>
          replicaConnection(this.cluster.options.redisOptions ?? {}, host, port, true),
      );
      shard = created;
      this.#shards.set(owner, shard);
    }
    return shard;
  }

  /**
   * Follows the slot map: polls every master it names (so that its replicas qualify before the
   * first read of its slots), drops the shards of nodes that own no slot any more.
   */
  readonly #track = (): void => {
    const masters = slotMasters(this.cluster);
    for (const [address, shard] of this.#shards) {
      if (!masters.has(address)) this.#drop(address, shard);
    }
    for (const master of masters) this.#shard(master);
  };

  #drop(address: string, shard: ReplicaReads): void {
    if (this.#shards.get(address) !== shard) return;
    this.#shards.delete(address);
    log("replica reads of %s's shard dropped", address);
    shard.close();
  }

  /** The polling (and confirmed-deletion) connection to `address`; closing drops its shard. */
  #master(address: string, shard: () => ReplicaReads): Redis {
    const connection = nodeConnection(this.cluster, address, "replica reads' master", {
      maxRetriesPerRequest: null,
      enableAutoPipelining: false,
      connectTimeout: MASTER_CONNECT_TIMEOUT_MS,
      socketTimeout: MASTER_SOCKET_TIMEOUT_MS,
    });
    connection.on("close", () => this.#drop(address, shard()));
    return connection;
  }
}
