// The wire format: one batch is one EVAL/EVALSHA of the batch script per group of keys (one on a
// node, one per slot on a Cluster), its KEYS the group's keys, its ARGV each write's argument
// count then its arguments, followed in the same socket write by one WAIT <replicas>
// <timeoutMs>; WAIT confirms every write sent before it on the connection.
// The late-write rule: each write carries its request's deadline on the server's clock, and the
// script applies no write whose deadline has passed — a request answered 503 while its write
// waited (a frozen master) must not have it land later over what succeeded since. Writes whose
// deadline passed while queued here are not sent at all.
import type { Redis } from "ioredis";
import { asError, groupedBatch, isError, sendBatch, waitError } from "./batchCalls.js";
import type { BatchScript, WriteArguments } from "./batchCalls.js";
import type { LanePool, WriterLane } from "./WriterLane.js";
import { Confirmations, confirmedCount } from "./Confirmations.js";
import type { ReplicaRule } from "./ReplicaRule.js";
import { RetryableError } from "../../errors/internal/RetryableError.js";
import type { StoreCounters } from "../stats.js";

/** Writes sent in one script call at most (so none holds Redis for long). */
const MAX_BATCH = 100;

/**
 * What a write resolves with when the writer was made with `offsets`: the script's reply, and the
 * master's replication offset right after the write's batch (undefined if ROLE failed). A replica
 * whose applied offset has reached it has the write.
 */
export interface OffsetReply {
  reply: unknown;
  offset: number | undefined;
}

interface Queued {
  key: string;
  group: number;
  args: WriteArguments;
  deadline: number;
  resolve: (written: unknown) => void;
  reject: (error: Error) => void;
}

/**
 * Writes (of one batch script) that are confirmed by the replicas `rule` asks for before they
 * resolve,
 * over the connection set's writer connections (LanePool, shared with the other writers on it): a
 * WAIT blocks its connection until replicas answer, and reads must not queue behind it.
 *
 * Writes are committed in groups. WAIT counts the replicas that have every write sent before it
 * on its connection, so the writes queued during one turn of the event loop, or while both
 * connections wait, go out together in one socket write followed by one WAIT for all of them.
 */
export class DurableWriter {
  readonly #lanes: LanePool;
  readonly #unsubscribe: () => void;
  readonly #counters: StoreCounters;
  readonly #vouches: ((connection: Redis) => boolean | Promise<boolean>) | undefined;
  readonly #groupOf: (key: string) => number;
  readonly #offsets: boolean;
  readonly #confirm: Confirmations;
  #queue: Queued[] = [];
  #scheduled = false;

  /** `rule` says which replicas must confirm, asked at each batch. */
  constructor(
    lanes: LanePool,
    private readonly batchScript: BatchScript,
    private readonly rule: ReplicaRule,
    private readonly timeoutMs: number,
    {
      counters,
      vouches,
      groupOf,
      offsets = false,
    }: {
      counters: StoreCounters;
      /**
       * Whether a write confirmed on this connection may be acknowledged (on Sentinel: it is
       * the master a Sentinel majority names); all may when undefined.
       */
      vouches: ((connection: Redis) => boolean | Promise<boolean>) | undefined;
      /** Writes one script call may take together share a group (see LaneRouter.groupOf). */
      groupOf: (key: string) => number;
      /** Resolve each write with its master's offset as well (see OffsetReply). */
      offsets?: boolean;
    },
  ) {
    this.#counters = counters;
    this.#vouches = vouches;
    this.#groupOf = groupOf;
    this.#offsets = offsets;
    this.#lanes = lanes;
    this.#confirm = new Confirmations(rule, timeoutMs, lanes);
    this.#unsubscribe = lanes.subscribe(this.#dispatch);
  }

  /**
   * Writes and waits until the replicas the rule asks for have the write.
   * @returns the write script's reply
   * @throws NotDurableError when they do not confirm before `deadline`
   * @throws RetryableError when the connection changed between the write and its confirmation
   */
  write(key: string, args: WriteArguments, deadline: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ key, group: this.#groupOf(key), args, deadline, resolve, reject });
      if (!this.#scheduled) {
        // After this turn of the event loop: the writes of requests it handles go out together.
        this.#scheduled = true;
        setImmediate(this.#dispatch);
      }
    });
  }

  /** Stops taking lanes; the connection set closes them once its last user is gone. */
  close(): void {
    this.#unsubscribe();
  }

  /** Sends the queued writes on the free lanes, while there are both (else a lane finishing does). */
  readonly #dispatch = (): void => {
    this.#scheduled = false;
    for (;;) {
      const lane = this.#lanes.free();
      if (lane === undefined || this.#queue.length === 0) return;
      const batch = this.#unexpired(this.#queue.splice(0, MAX_BATCH));
      // #send marks the lane busy before it first waits.
      if (batch.length > 0) void this.#send(lane, batch);
    }
  };

  /**
   * Sends a batch of writes as one script call followed by one confirmation (WAIT, or WAITAOF
   * for the fsync tier and a degraded master), and hands each write its reply.
   */
  async #send(lane: WriterLane, queued: Queued[]): Promise<void> {
    lane.busy = true;
    let batch = queued;
    if (!lane.clock.current) {
      // A new connection, perhaps to a new master: its clock first (one TIME), for the deadlines.
      try {
        await lane.clock.measure();
      } catch (error) {
        for (const { reject } of batch) reject(asError(error));
        batch = [];
      }
      // Writes whose requests gave up while the connection came back are not sent.
      batch = this.#unexpired(batch);
      if (batch.length === 0) {
        lane.busy = false;
        this.#lanes.notify();
        return;
      }
    }
    const key = batch[0]?.key ?? "";
    const promotable = this.rule.promotable(key, this.#lanes);
    if (promotable === undefined) {
      const error = new RetryableError(
        "the replicas the master should have are not known: no Sentinel has answered yet, or " +
          "the slot map names another master for the key",
      );
      for (const { reject } of batch) reject(error);
      lane.busy = false;
      this.#lanes.notify();
      return;
    }
    const { epoch } = lane;
    const view = this.#confirm.viewOf(lane);
    const refresh = view.stale(epoch);
    const plan = this.#confirm.plan(lane, view, promotable, refresh);
    // One socket write: the script calls (one per group of keys), then the confirmation of them
    // all, then (once a second) what the master says of its replicas.
    batch = groupedBatch(batch);
    const writes = sendBatch(lane, this.batchScript, batch);
    const confirmation = lane.commands.send(
      plan.local ? "WAITAOF" : "WAIT",
      plan.local ? [1, plan.required, this.timeoutMs] : [plan.required, this.timeoutMs],
    );
    // With offsets: the master's replication offset once the batch is in, every write's causal
    // token (see OffsetReply).
    const role = this.#offsets ? lane.commands.send("ROLE", []) : undefined;
    const info = refresh ? lane.commands.send("INFO", ["replication"]) : undefined;
    lane.commands.flush();
    const sentAt = performance.now();
    const [replies, confirmed, offset, infoReply] = await Promise.all([
      writes,
      confirmation.then(
        (reply) => confirmedCount(reply),
        (reason: unknown) => waitError(reason),
      ),
      role?.then(
        (reply) => (reply as [string, number])[1],
        () => undefined,
      ),
      info?.catch(() => undefined),
    ]);
    if (typeof infoReply === "string") view.read(infoReply, epoch);
    this.#counters.batch(batch.length, performance.now() - sentAt);
    lane.busy = false;
    const count = typeof confirmed === "number" ? confirmed : 0;
    const anyWritten = typeof confirmed === "number" && !replies.every(isError);
    // Without a fence (or with a master known by its address) no await: the batch is answered in
    // this turn.
    const fence = anyWritten ? this.#vouched(lane) : false;
    const vouched = typeof fence === "boolean" ? fence : await fence;
    const settled = plan.final && count >= plan.required && lane.epoch === epoch && vouched;
    if (settled) this.#confirm.report(lane, plan.required, plan.degraded);
    batch.forEach(({ key: written, resolve, reject, deadline }, i) => {
      const reply = replies[i];
      const value: unknown = this.#offsets && !isError(reply) ? { reply, offset } : reply;
      if (isError(reply)) reject(reply);
      else if (typeof confirmed !== "number") reject(confirmed);
      // Confirmed with the batch, as nearly every write is: no further promise.
      else if (settled) resolve(value);
      else {
        this.#confirm
          .settle(lane, epoch, written, count, deadline)
          .then(async () => {
            if (!(await this.#vouched(lane))) throw notVouched();
            resolve(value);
          })
          .catch(reject);
      }
    });
    this.#lanes.notify();
  }

  /** Whether writes confirmed on the lane's connection may be acknowledged (see `vouches`). */
  #vouched(lane: WriterLane): boolean | Promise<boolean> {
    return this.#vouches === undefined || this.#vouches(lane.connection);
  }

  /**
   * The writes whose requests still wait for them. The others have been answered 503 while they
   * queued behind a batch (a frozen master): sent now, they could overwrite what later requests,
   * answered with success, wrote.
   */
  #unexpired(queued: Queued[]): Queued[] {
    const now = Date.now();
    return queued.filter(({ deadline, reject }) => {
      if (deadline > now) return true;
      reject(new RetryableError("the write's deadline passed before it was sent"));
      return false;
    });
  }
}

function notVouched(): RetryableError {
  return new RetryableError(
    "the master this write reached is not the one a majority of Sentinels names now " +
      "(a cut-off side, or a master being replaced): not acknowledged",
  );
}
