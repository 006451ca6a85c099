import { RedisUnavailableError } from "../../errors/RedisUnavailableError.js";
import { UnsupportedTopologyError } from "../../errors/UnsupportedTopologyError.js";
import { RetryableError } from "../../errors/internal/RetryableError.js";
import type { NormalizedDurability } from "../options/options.js";
import type { RedisConnection } from "../RedisConnection.js";
import { ReadFence } from "../sentinel/ReadFence.js";
import { addressOf } from "../sentinel/SentinelWatch.js";
import type { StoreCounters } from "../stats.js";
import type { BatchScript, WriteArguments } from "./batchCalls.js";
import type { OffsetReply } from "./DurableWriter.js";
import { RoutedWriter } from "./RoutedWriter.js";
import type { DurabilityChange, ReplicaRule } from "./ReplicaRule.js";

/** What a write answered, and with replica reads its causal token (the master's offset). */
export interface WriteResult {
  reply: unknown;
  offset: number | undefined;
}

/**
 * How one user's writes reach Redis, as its `durability` says: confirmed by replicas on the
 * writer connections (on Sentinel only where a Sentinel majority names the master), or sent
 * directly; either way with the write's deadline on the server's clock, stamped here once.
 */
export class Writes {
  /**
   * The fewest replicas a write must reach (`durability.replicas`; "all": 1). A write also
   * waits for every other replica that could be promoted (see ReplicaRule).
   */
  readonly requiredReplicas: () => number | undefined;
  /** Which reads count as from the master a Sentinel majority names. */
  readonly fence: ReadFence;
  readonly #durable: RoutedWriter | undefined;
  readonly #offsets: boolean;

  constructor(
    private readonly connection: RedisConnection,
    private readonly script: BatchScript,
    { replicas, timeoutMs, fenceReads, whenFewer, fsync }: NormalizedDurability,
    {
      offsets,
      counters,
      unconfirmable,
      onDurability,
    }: {
      offsets: boolean;
      counters: StoreCounters;
      unconfirmable: string;
      /** A master's writes became degraded (fewer copies than asked) or were restored. */
      onDurability: (change: DurabilityChange) => void;
    },
  ) {
    const { backend, clock } = connection;
    if (typeof replicas === "number" && replicas > 0 && whenFewer === "refuse") {
      connection.expectReplicas(replicas, unconfirmable);
    }
    // Durable writes on Sentinel are acknowledged only on the master a Sentinel majority names.
    const quorum =
      replicas === "all" || replicas > 0 || fenceReads
        ? backend.sentinelWatch?.quorum()
        : undefined;
    if (replicas === "all" && quorum === undefined) {
      throw new UnsupportedTopologyError(
        '`durability.replicas: "all"` needs a Sentinel topology this library connects to ' +
          "(`{ sentinels, name }` or a redis-sentinel:// URL), not a client passed in",
      );
    }
    // "all": also every replica Sentinel lists for the master, reachable or not, and none fewer
    // (503s instead), as before issue 30.
    const listed = () => quorum?.knownReplicas ?? 1;
    this.requiredReplicas = replicas === "all" ? () => quorum?.knownReplicas : () => replicas;
    this.fence = new ReadFence(quorum, fenceReads, backend);
    this.#offsets = offsets;
    if (replicas === "all" || replicas > 0) {
      const lanes = connection.lanes();
      const rule: ReplicaRule = {
        get minimum() {
          return replicas === "all" ? listed() : replicas;
        },
        whenFewer: replicas === "all" ? "refuse" : whenFewer,
        fsync,
        promotable:
          quorum === undefined
            ? (key, pool) => lanes.promotable(key, pool)
            : () => quorum.promotable(),
        selectable: quorum === undefined ? undefined : () => quorum.selectable(),
        map: quorum === undefined ? (address) => lanes.mapAddress(address) : quorum.natMap,
        report: onDurability,
        misconfigured: (message) => connection.notices.once(message),
      };
      this.#durable = new RoutedWriter(lanes, {
        batchScript: script,
        rule,
        timeoutMs,
        counters,
        offsets,
        vouches: quorum === undefined ? undefined : (master) => quorum.vouches(addressOf(master)),
      });
    }
    // Direct writes, and values that record a time, go by the server's clock: measured early.
    if (!clock.current) void clock.measure().catch(() => undefined);
  }

  /**
   * One attempt at a write (`what`, for errors): `args` framed for the write script, whose
   * deadline argument is stamped here. Resolves with the script's reply for the write, unless it
   * is one of the replies every write script shares: -1, it reached Redis after its deadline
   * (retried within the wait bound); -2, what it was based on was read from a master no Sentinel
   * majority named, and the master they name holds something newer (fails).
   * @throws NotDurableError when replicas did not confirm before `deadline`
   */
  async send(
    key: string,
    args: WriteArguments,
    deadline: number,
    what: string,
  ): Promise<WriteResult> {
    const result = await this.#attempt(key, args, deadline);
    if (result.reply === -1)
      throw new RetryableError(`the ${what} reached Redis after its deadline`);
    if (result.reply === -2) {
      throw new RedisUnavailableError(
        `the ${what} was based on a read from a master no Sentinel majority named, or one ` +
          "replaced while it was read, and the current master holds newer values of what it " +
          "changes: not written",
      );
    }
    return result;
  }

  async #attempt(key: string, args: WriteArguments, deadline: number): Promise<WriteResult> {
    const durable = this.#durable;
    if (durable !== undefined) {
      const result = await durable.write(key, args, deadline);
      return this.#offsets ? (result as OffsetReply) : { reply: result, offset: undefined };
    }
    const { clock, backend } = this.connection;
    if (!clock.current) await clock.measure();
    // Measuring may have waited for a reconnection: a request that gave up meanwhile sends
    // nothing (as the durable writer's queue does).
    if (Date.now() >= deadline) throw new RetryableError("the write's deadline passed");
    args[this.script.deadlineArg] = clock.toServer(deadline);
    const replies = await backend.runScript(this.script.script, [key], [args.length, ...args]);
    return { reply: Array.isArray(replies) ? replies[0] : replies, offset: undefined };
  }

  close(): void {
    this.#durable?.close();
  }
}
