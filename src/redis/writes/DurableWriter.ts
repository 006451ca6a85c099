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
import type { LanePool, WriterLane } from "./WriterLane.js";
import { MasterView } from "./MasterView.js";
import type { ReplicaRule } from "./ReplicaRule.js";
import { addressOf } from "../sentinel/SentinelWatch.js";
import { RetryableError } from "../../errors/internal/RetryableError.js";
import type { StoreCounters } from "../stats.js";

const REPLY_MARGIN_MS = 100;
/** How often an unconfirmed write looks again at its replicas. */
const RECHECK_MS = 100;

/** Writes sent in one script call at most (so none holds Redis for long). */
const MAX_BATCH = 100;
/** One WAITAOF for the master's own fsync blocks at most this long (`appendfsync everysec`). */
const AOF_WAIT_MS = 1_000;

/** Whether a master can confirm a write is in its AOF on disk. */
type AofSupport = "yes" | "no-command" | "no-aof";

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
  readonly #views = new WeakMap<WriterLane, MasterView>();
  readonly #aof = new WeakMap<WriterLane, { epoch: number; support: AofSupport }>();
  /** Per lane: whether its master's writes were last degraded. */
  readonly #degraded = new WeakMap<WriterLane, boolean>();
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
    const promotable = this.rule.promotable(key);
    if (promotable === undefined) {
      const error = new RetryableError(
        "the replicas the master should have are not known yet: no Sentinel has answered",
      );
      for (const { reject } of batch) reject(error);
      lane.busy = false;
      this.#lanes.notify();
      return;
    }
    const { epoch } = lane;
    const view = this.#viewOf(lane);
    const refresh = view.stale(epoch);
    const plan = this.#plan(lane, view, promotable, refresh);
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
    this.#counters.writeBatchSize.observe(batch.length);
    this.#counters.waitLatencyMs.observe(performance.now() - sentAt);
    lane.busy = false;
    const count = typeof confirmed === "number" ? confirmed : 0;
    const anyWritten = typeof confirmed === "number" && !replies.every(isError);
    // Without a fence (or with a master known by its address) no await: the batch is answered in
    // this turn.
    const fence = anyWritten ? this.#vouched(lane) : false;
    const vouched = typeof fence === "boolean" ? fence : await fence;
    const settled = plan.final && count >= plan.required && lane.epoch === epoch && vouched;
    if (settled) this.#report(lane, plan.required, plan.degraded);
    batch.forEach(({ key: written, resolve, reject, deadline }, i) => {
      const reply = replies[i];
      const value: unknown = this.#offsets && !isError(reply) ? { reply, offset } : reply;
      if (isError(reply)) reject(reply);
      else if (typeof confirmed !== "number") reject(confirmed);
      // Confirmed with the batch, as nearly every write is: no further promise.
      else if (settled) resolve(value);
      else {
        this.#settle(lane, epoch, written, count, deadline)
          .then(async () => {
            if (!(await this.#vouched(lane))) throw notVouched();
            resolve(value);
          })
          .catch(reject);
      }
    });
    this.#lanes.notify();
  }

  /**
   * What the batch about to go out on `lane` waits for, from what is known now: how many
   * replicas, whether the master's own AOF fsync too (WAITAOF), and whether that confirmation
   * settles the writes or a closer look ({@link #settle}) must follow.
   */
  #plan(
    lane: WriterLane,
    view: MasterView,
    promotable: ReadonlySet<string>,
    refresh: boolean,
  ): { required: number; local: boolean; final: boolean; degraded: boolean } {
    const { minimum, whenFewer, fsync } = this.rule;
    const required = view.required(promotable);
    if (required >= minimum) return { required, local: fsync, final: true, degraded: false };
    // Fewer replicas than asked for: decided only on what the master said within the second.
    const aof = this.#aof.get(lane);
    const known = !refresh && aof?.epoch === lane.epoch;
    if (whenFewer === "refuse" || !known) {
      return { required: minimum, local: fsync, final: false, degraded: false };
    }
    return { required, local: fsync || aof.support === "yes", final: true, degraded: true };
  }

  /**
   * Confirms a write the batch's confirmation did not settle: asks the master which replicas it
   * has, looks at the promotable ones it does not list, and waits for what the rule then asks
   * (see MasterView.required), repeating until it is met or `deadline` is near. A reconnection
   * in between means the confirmation may have gone to a new master that never saw the write,
   * so the whole write is redone.
   */
  async #settle(
    lane: WriterLane,
    epoch: number,
    key: string,
    confirmed: number,
    deadline: number,
  ): Promise<void> {
    const { minimum, whenFewer, fsync } = this.rule;
    let count = confirmed;
    let required = minimum;
    for (;;) {
      if (lane.epoch !== epoch) {
        throw new RetryableError("connection changed between the write and its WAIT");
      }
      // Stop short of the deadline, so the answer is "not durable" rather than "no answer".
      const remaining = deadline - REPLY_MARGIN_MS - Date.now();
      const promotable = this.rule.promotable(key);
      if (promotable !== undefined) {
        const view = this.#viewOf(lane);
        view.read(String(await lane.connection.call("INFO", "replication")), epoch);
        await view.probe(promotable);
        required = view.required(promotable);
        const fewer = required < minimum;
        if (fewer && whenFewer === "refuse") required = minimum;
        else if (count >= required) {
          const local = fsync || fewer;
          if (local && !(await this.#localFsync(lane, epoch, required, remaining))) {
            // Not on disk yet (or the replicas' AOF behind): look again.
            count = 0;
            continue;
          }
          this.#report(lane, required, fewer);
          return;
        }
        if (remaining <= 0) throw new NotDurableError(count, required);
        // While too few replicas are even connected (one re-attaching after a failover), a WAIT
        // would only hold the connection, and every write queued behind it, for nothing.
        if (view.online.size < required) {
          await delay(Math.min(RECHECK_MS, remaining));
          continue;
        }
        const timeout = Math.min(this.timeoutMs, RECHECK_MS, remaining);
        count = fsync
          ? confirmedCount(await lane.connection.call("WAITAOF", 1, required, timeout))
          : await lane.connection.wait(required, timeout);
      } else {
        if (remaining <= 0) throw new NotDurableError(count, required);
        await delay(Math.min(RECHECK_MS, remaining));
      }
    }
  }

  /**
   * Waits (within `remaining`) until the write is in the master's AOF on disk and in `replicas`
   * replicas' (WAITAOF); whether it is. Where the server has no WAITAOF or no AOF, a degraded
   * write is acknowledged from the master's memory, and the fsync tier refuses.
   */
  async #localFsync(
    lane: WriterLane,
    epoch: number,
    replicas: number,
    remaining: number,
  ): Promise<boolean> {
    const support = await this.#aofSupport(lane, epoch);
    if (support !== "yes") {
      if (!this.rule.fsync) return true;
      throw new NotDurableError(0, replicas, {
        reason:
          support === "no-command"
            ? "`durability.fsync` needs WAITAOF (Redis 7.2 or later, or Valkey): this server has none"
            : "`durability.fsync` needs `appendonly yes` on the master",
      });
    }
    if (remaining <= 0)
      throw new NotDurableError(0, replicas, { reason: "not in the AOF in time" });
    const reply = await lane.connection.call(
      "WAITAOF",
      1,
      replicas,
      Math.max(1, Math.min(remaining, AOF_WAIT_MS)),
    );
    return confirmedCount(reply) >= replicas;
  }

  /** Whether the lane's master has WAITAOF with its AOF on (asked once per connection). */
  #aofSupport(lane: WriterLane, epoch: number): Promise<AofSupport> {
    const known = this.#aof.get(lane);
    if (known?.epoch === epoch) return Promise.resolve(known.support);
    return lane.connection.call("WAITAOF", 1, 0, 1).then(
      () => this.#remember(lane, epoch, "yes"),
      (error: unknown) =>
        this.#remember(
          lane,
          epoch,
          error instanceof Error && /unknown command/i.test(error.message)
            ? "no-command"
            : "no-aof",
        ),
    );
  }

  #remember(lane: WriterLane, epoch: number, support: AofSupport): AofSupport {
    this.#aof.set(lane, { epoch, support });
    return support;
  }

  #viewOf(lane: WriterLane): MasterView {
    let view = this.#views.get(lane);
    if (view === undefined) {
      view = new MasterView(this.rule.map);
      this.#views.set(lane, view);
    }
    return view;
  }

  /** Tells the rule when a master's writes become degraded (fewer copies than asked) or not. */
  #report(lane: WriterLane, replicas: number, degraded: boolean): void {
    if (this.#degraded.get(lane) === degraded) return;
    const was = this.#degraded.get(lane);
    this.#degraded.set(lane, degraded);
    if (was === undefined && !degraded) return;
    this.rule.report({
      master: addressOf(lane.connection) ?? "unknown",
      degraded,
      replicas,
      minimum: this.rule.minimum,
    });
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

/** Replicas a WAIT (a count) or WAITAOF (`[local, replicas]`; -1 if not local) confirmed. */
function confirmedCount(reply: unknown): number {
  if (Array.isArray(reply)) return Number(reply[0]) >= 1 ? Number(reply[1]) : -1;
  return Number(reply);
}

function notVouched(): RetryableError {
  return new RetryableError(
    "the master this write reached is not the one a majority of Sentinels names now " +
      "(a cut-off side, or a master being replaced): not acknowledged",
  );
}
