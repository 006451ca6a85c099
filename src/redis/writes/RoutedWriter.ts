import { NotDurableError } from "../../errors/NotDurableError.js";
import { RetryableError } from "../../errors/internal/RetryableError.js";
import type { BatchScript, WriteArguments } from "./batchCalls.js";
import { replyIs } from "../connection/replies.js";
import { debugFor } from "../debug.js";
import { DurableWriter } from "./DurableWriter.js";
import type { LaneRouter } from "./LaneRouter.js";
import type { StoreCounters } from "../stats.js";
import type { LanePool } from "./WriterLane.js";
import type { ReplicaRule } from "./ReplicaRule.js";

const log = debugFor("redis");

/** What a durable writer is given beside its lanes (see DurableWriter). */
export interface DurableWriterSettings {
  batchScript: BatchScript;
  rule: ReplicaRule;
  timeoutMs: number;
  counters: StoreCounters;
  vouches: ConstructorParameters<typeof DurableWriter>[4]["vouches"];
  /** Resolve writes with the master's offset too (see OffsetReply). */
  offsets?: boolean;
}

/**
 * Durable writes over a topology's lanes: each write goes to the DurableWriter of the master that
 * owns its key (one on a node or Sentinel, one per master on a Cluster), and a write that met a
 * moved slot or a lost master has the masters looked up again before its retry.
 */
export class RoutedWriter {
  readonly #writers = new Map<LanePool, DurableWriter>();
  /** Whether a shard with fewer replicas than asked for has been logged. */
  #reported = false;

  constructor(
    private readonly router: LaneRouter,
    private readonly settings: DurableWriterSettings,
  ) {}

  /** See DurableWriter.write. */
  write(key: string, args: WriteArguments, deadline: number): Promise<unknown> {
    const pool = this.router.poolFor(key);
    if (pool === undefined) {
      return Promise.reject(
        new RetryableError("no master is known for this session's slot (a Cluster failing over)"),
      );
    }
    return this.#writerOf(pool)
      .write(key, args, deadline)
      .catch((error: unknown) => {
        throw this.#failed(key, error);
      });
  }

  close(): void {
    for (const writer of this.#writers.values()) writer.close();
    this.#writers.clear();
  }

  #writerOf(pool: LanePool): DurableWriter {
    let writer = this.#writers.get(pool);
    if (writer === undefined) {
      for (const [old, stale] of this.#writers) {
        if (old.closed) {
          stale.close();
          this.#writers.delete(old);
        }
      }
      const { batchScript, rule, timeoutMs, counters, vouches, offsets } = this.settings;
      writer = new DurableWriter(pool, batchScript, rule, timeoutMs, {
        counters,
        vouches,
        offsets,
        groupOf: (key) => this.router.groupOf(key),
      });
      this.#writers.set(pool, writer);
    }
    return writer;
  }

  /** The error a failed write is reported with; a moved slot or lost master reroutes first. */
  #failed(key: string, error: unknown): unknown {
    if (!(error instanceof Error)) return error;
    if (
      replyIs(error, "MOVED", "ASK", "UNBLOCKED") ||
      /Connection is closed|Socket timeout/.test(error.message)
    ) {
      this.router.reroute();
    }
    const shardReplicas = this.router.replicasOf(key);
    if (
      error instanceof NotDurableError &&
      shardReplicas !== undefined &&
      shardReplicas < error.required
    ) {
      const reason =
        `\`durability.replicas\` asks for ${error.required}, but the shard of this key has ` +
        `${shardReplicas} replica${shardReplicas === 1 ? "" : "s"}: lower it, or add replicas`;
      if (!this.#reported) {
        this.#reported = true;
        log("durable writes cannot succeed on slot %d: %s", this.router.groupOf(key), reason);
      }
      return new NotDurableError(error.confirmed, error.required, { cause: error, reason });
    }
    return error;
  }
}
