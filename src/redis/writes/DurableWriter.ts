// The wire format: one batch is one EVAL/EVALSHA of the batch script per group of keys (one on a
// node, one per slot on a Cluster), its KEYS the group's keys, its ARGV each write's argument
// count then its arguments, followed in the same socket write by one WAIT <replicas>
// <timeoutMs>; WAIT confirms every write sent before it on the connection.
// The late-write rule: each write carries its request's deadline on the server's clock, and the
// script applies no write whose deadline has passed — a request answered 503 while its write
// waited (a frozen master) must not have it land later over what succeeded since. Writes whose
// deadline passed while queued here are not sent at all.
import { setTimeout as delay } from "node:timers/promises";
import type { Redis } from "ioredis";
import { NotDurableError } from "../../errors/NotDurableError.js";
import { asError, groupedBatch, isError, sendBatch, waitError } from "./batchCalls.js";
import type { BatchScript, WriteArguments } from "./batchCalls.js";
import { connectedReplicas } from "./WriterLane.js";
import type { LanePool, WriterLane } from "./WriterLane.js";
import { RetryableError } from "../../errors/internal/RetryableError.js";
import type { StoreCounters } from "../stats.js";

const REPLY_MARGIN_MS = 100;
/** How often an unconfirmed write looks again at its replicas. */
const RECHECK_MS = 100;

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
 * Writes (of one batch script) that are confirmed by `replicas` replicas before they resolve,
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
  #queue: Queued[] = [];
  #scheduled = false;

  /**
   * `replicas` says how many replicas must confirm, asked at each batch ("all" changes with what
   * Sentinel lists); undefined while that is not known yet.
   */
  constructor(
    lanes: LanePool,
    private readonly batchScript: BatchScript,
    private readonly replicas: () => number | undefined,
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
    this.#unsubscribe = lanes.subscribe(this.#dispatch);
  }

  /**
   * Writes and waits until `replicas` replicas have the write.
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
   * Sends a batch of writes as one script call followed by one WAIT, and hands each write its
   * reply.
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
    const required = this.replicas();
    if (required === undefined) {
      const error = new RetryableError(
        "the replicas the master should have are not known yet: no Sentinel has answered",
      );
      for (const { reject } of batch) reject(error);
      lane.busy = false;
      this.#lanes.notify();
      return;
    }
    const { epoch } = lane;
    // One socket write: the script calls (one per group of keys), then the WAIT that confirms
    // them all.
    batch = groupedBatch(batch);
    const writes = sendBatch(lane, this.batchScript, batch);
    const wait = lane.commands.send("WAIT", [required, this.timeoutMs]);
    // With offsets: the master's replication offset once the batch is in, every write's causal
    // token (see OffsetReply).
    const role = this.#offsets ? lane.commands.send("ROLE", []) : undefined;
    lane.commands.flush();
    const sentAt = performance.now();
    const [replies, confirmed, offset] = await Promise.all([
      writes,
      wait.then(
        (count) => Number(count),
        (reason: unknown) => waitError(reason),
      ),
      role?.then(
        (reply) => (reply as [string, number])[1],
        () => undefined,
      ),
    ]);
    this.#counters.writeBatchSize.observe(batch.length);
    this.#counters.waitLatencyMs.observe(performance.now() - sentAt);
    lane.busy = false;
    const count = typeof confirmed === "number" ? confirmed : 0;
    const anyWritten = typeof confirmed === "number" && !replies.every(isError);
    // Without a fence (or with a master known by its address) no await: the batch is answered in
    // this turn.
    const fence = anyWritten ? this.#vouched(lane) : false;
    const vouched = typeof fence === "boolean" ? fence : await fence;
    batch.forEach(({ resolve, reject, deadline }, i) => {
      const written = replies[i];
      const reply: unknown =
        this.#offsets && !isError(written) ? { reply: written, offset } : written;
      if (isError(written)) reject(written);
      else if (typeof confirmed !== "number") reject(confirmed);
      // Confirmed by the WAIT sent with it, as nearly every write is: no further promise.
      else if (count >= required && lane.epoch === epoch && vouched) resolve(reply);
      else {
        this.#awaitReplicas(lane, epoch, count, required, deadline)
          .then(async () => {
            if (!(await this.#vouched(lane))) throw notVouched();
            resolve(reply);
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

  /**
   * Repeats WAIT until `replicas` confirm. A reconnection in between means the WAIT may have gone
   * to a new master that never saw the write, so the whole write is redone.
   */
  async #awaitReplicas(
    lane: WriterLane,
    epoch: number,
    confirmed: number,
    replicas: number,
    deadline: number,
  ): Promise<void> {
    let count = confirmed;
    for (;;) {
      if (lane.epoch !== epoch) {
        throw new RetryableError("connection changed between the write and its WAIT");
      }
      if (count >= replicas) return;
      // Stop short of the deadline, so the answer is "not durable" rather than "no answer".
      const remaining = deadline - REPLY_MARGIN_MS - Date.now();
      if (remaining <= 0) throw new NotDurableError(count, replicas);
      // While too few replicas are even connected (one re-attaching after a failover), a WAIT
      // would only hold the connection, and every write queued behind it, for nothing.
      if ((await connectedReplicas(lane.connection)) < replicas) {
        await delay(Math.min(RECHECK_MS, remaining));
        continue;
      }
      count = await lane.connection.wait(replicas, Math.min(this.timeoutMs, RECHECK_MS, remaining));
    }
  }
}

function notVouched(): RetryableError {
  return new RetryableError(
    "the master this write reached is not the one a majority of Sentinels names now " +
      "(a cut-off side, or a master being replaced): not acknowledged",
  );
}
