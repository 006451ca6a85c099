import { setTimeout as delay } from "node:timers/promises";
import { NotDurableError } from "../../errors/NotDurableError.js";
import { RetryableError } from "../../errors/internal/RetryableError.js";
import { addressOf } from "../sentinel/SentinelWatch.js";
import { FSYNC_REFUSED, MasterAof } from "./MasterAof.js";
import { MasterView } from "./MasterView.js";
import type { ReplicaRule } from "./ReplicaRule.js";
import type { LanePool, WriterLane } from "./WriterLane.js";

/**
 * The replicas a failover could select now; `"unknown"` when a Sentinel of the vouching majority
 * did not list them, `"no failover"` when the rule watches no Sentinels.
 */
type Selectable = ReadonlySet<string> | "unknown" | "no failover";

/** A write gives up this long before its deadline, so its answer is "not durable", not none. */
const REPLY_MARGIN_MS = 100;
/** How often an unconfirmed write looks again at its replicas. */
const RECHECK_MS = 100;
/** One WAITAOF for the master's own fsync blocks at most this long (`appendfsync everysec`). */
const AOF_WAIT_MS = 1_000;

/**
 * How a durable writer's batches are confirmed, by its replica rule: what each batch waits for
 * ({@link plan}), the closer look at a write its batch's confirmation did not settle
 * ({@link settle}), and the reports of masters whose writes become degraded or are restored.
 * What it knows is kept per writer connection, and forgotten when that reconnects.
 */
export class Confirmations {
  readonly #views = new WeakMap<WriterLane, MasterView>();
  readonly #aof: MasterAof;
  /** Per lane: whether its master's writes were last degraded. */
  readonly #degraded = new WeakMap<WriterLane, boolean>();

  constructor(
    private readonly rule: ReplicaRule,
    /** How long one WAIT may block (`durability.timeoutMs`). */
    private readonly timeoutMs: number,
    /** The writer connections of the master the writes go to. */
    private readonly pool: LanePool,
  ) {
    this.#aof = new MasterAof(rule);
  }

  /**
   * What the batch about to go out on `lane` waits for, from what is known now: how many
   * replicas, whether the master's own AOF fsync too (WAITAOF), and whether that confirmation
   * settles the writes or a closer look ({@link settle}) must follow.
   */
  plan(
    lane: WriterLane,
    view: MasterView,
    promotable: ReadonlySet<string>,
    refresh: boolean,
  ): { required: number; local: boolean; final: boolean; degraded: boolean } {
    const { minimum, whenFewer, fsync } = this.rule;
    const required = view.required(others(promotable, lane));
    const aof = this.#aof.known(lane);
    const known = aof !== undefined;
    const aofOn = aof === "yes";
    // The fsync tier sends WAITAOF only once this master is known to have it (else a closer
    // look asks, and refuses naming the option).
    const unsure = fsync && !aofOn;
    if (required >= minimum && !unsure) {
      return { required, local: fsync, final: true, degraded: false };
    }
    // Fewer replicas than asked for: decided only on what the master said within the second,
    // and never while a failover could promote a replica that lacks the writes.
    if (
      required >= minimum ||
      whenFewer === "refuse" ||
      refresh ||
      !known ||
      unsure ||
      this.#fenced(lane, view, this.#selectable())
    ) {
      return { required: Math.max(required, minimum), local: false, final: false, degraded: false };
    }
    return { required, local: aofOn, final: true, degraded: true };
  }

  /**
   * Confirms a write the batch's confirmation did not settle: asks the master which replicas it
   * has, looks at the promotable ones it does not list, and waits for what the rule then asks
   * (see MasterView.required), repeating until it is met or `deadline` is near. A reconnection
   * in between means the confirmation may have gone to a new master that never saw the write,
   * so the whole write is redone.
   */
  async settle(
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
      if (this.pool.closed) {
        // Its master no longer owns the slot (a Cluster failed it over): redone on the new one.
        throw new RetryableError("the master this write reached was replaced before confirming it");
      }
      // Stop short of the deadline, so the answer is "not durable" rather than "no answer".
      const remaining = deadline - REPLY_MARGIN_MS - Date.now();
      const promotable = this.rule.promotable(key, this.pool);
      if (promotable !== undefined) {
        const view = this.viewOf(lane);
        const info = String(await lane.connection.call("INFO", "replication"));
        // The connection may have moved to another master meanwhile (a failover): then INFO
        // described that master, not the one the write reached (seen in a SENTINEL FAILOVER
        // that lost writes acknowledged on the old master by the new one's replica count).
        if (lane.epoch !== epoch) continue;
        view.read(info, epoch);
        const waitFor = others(promotable, lane);
        // One look at what a failover could select serves the probe and the fence alike.
        const selectable = this.#selectable();
        await view.probe(
          selectable instanceof Set ? new Set([...waitFor, ...selectable]) : waitFor,
        );
        required = view.required(waitFor);
        const fewer = required < minimum;
        if (fewer && (whenFewer === "refuse" || this.#fenced(lane, view, selectable)))
          required = minimum;
        else if (count >= required) {
          const local = fsync || fewer;
          if (local && !(await this.#localFsync(lane, epoch, required, remaining))) {
            // Not on disk yet (or the replicas' AOF behind): look again.
            count = 0;
            continue;
          }
          if (lane.epoch !== epoch) continue;
          this.report(lane, required, fewer);
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
   * Whether a failover could now select a replica of the lane's master that lacks its writes:
   * one Sentinel could select (see SentinelQuorum.selectable) that the master does not list as
   * online and that is not known dead. Then a degraded write is refused rather than acknowledged:
   * in the flapping partition scenario, an old master that had rejoined but was not re-pointed
   * yet was promoted over a degraded master, and every write acknowledged there since was lost.
   */
  #fenced(lane: WriterLane, view: MasterView, selectable: Selectable): boolean {
    if (selectable === "no failover") return false;
    // No Sentinel majority's list to go by: a single copy is not risked.
    if (selectable === "unknown") return true;
    for (const address of others(selectable, lane)) {
      if (!view.online.has(address) && !view.dead(address)) return true;
    }
    return false;
  }

  /** What a failover could select now (see {@link Selectable}). */
  #selectable(): Selectable {
    if (this.rule.selectable === undefined) return "no failover";
    return this.rule.selectable() ?? "unknown";
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
    const support = await this.#aof.of(lane, epoch);
    if (support !== "yes") {
      if (!this.rule.fsync) return true;
      const reason = FSYNC_REFUSED[support];
      this.rule.misconfigured(
        `${reason} (${addressOf(lane.connection) ?? "its master"}); writes are refused`,
      );
      throw new NotDurableError(0, replicas, { reason });
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

  viewOf(lane: WriterLane): MasterView {
    let view = this.#views.get(lane);
    if (view === undefined) {
      view = new MasterView(this.rule.map);
      this.#views.set(lane, view);
    }
    return view;
  }

  /** Tells the rule when a master's writes become degraded (fewer copies than asked) or not. */
  report(lane: WriterLane, replicas: number, degraded: boolean): void {
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
}

/** Replicas a WAIT (a count) or WAITAOF (`[local, replicas]`; -1 if not local) confirmed. */
export function confirmedCount(reply: unknown): number {
  if (Array.isArray(reply)) return Number(reply[0]) >= 1 ? Number(reply[1]) : -1;
  return Number(reply);
}

/**
 * `promotable` less the master the lane is on: right after a failover, a Sentinel's replica list
 * can still name the replica just promoted, which is now the master the write reached.
 */
function others(promotable: ReadonlySet<string>, lane: WriterLane): ReadonlySet<string> {
  const self = addressOf(lane.connection);
  if (self === undefined || !promotable.has(self)) return promotable;
  const rest = new Set(promotable);
  rest.delete(self);
  return rest;
}
