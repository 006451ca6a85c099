import { channel } from "node:diagnostics_channel";
import { NotDurableError } from "../errors/NotDurableError.js";
import { RedisUnavailableError } from "../errors/RedisUnavailableError.js";

/** Counts in buckets, as Prometheus histograms do: each bucket counts observations ≤ `le`. */
export interface HistogramSnapshot {
  count: number;
  sum: number;
  /** Cumulative: observations at most `le`, for each bound in ascending order. */
  buckets: { le: number; count: number }[];
}

/** What the store has done since it was created, for dashboards and alerts. */
export interface StoreStats {
  /**
   * Store operations that gave up on Redis within `unavailable.waitMs`, and requests
   * `redisSession` turned away during a lasting outage: each a 503 for the user.
   */
  unavailable: number;
  /** Writes too few replicas confirmed within the bound (503 too). */
  notDurable: number;
  /** Attempts repeated after a transient error (a failover, a reconnection, `READONLY`, …). */
  retries: number;
  /** Master changes the client followed. */
  failovers: number;
  /** Keys that held something this library did not write there, taken as none. */
  corrupt: number;
  /**
   * Times a master's writes became degraded: fewer replicas could take them than
   * `durability.replicas` (its last replica gone), so they were acknowledged with the copies
   * there were (see `durability.whenFewer`).
   */
  degradations: number;
  /** Masters whose writes are degraded now (`host:port`). */
  degraded: string[];
  /**
   * Seconds masters' writes have been degraded, summed over masters, the degradations going on
   * now included (from their first degraded write to their first restored one).
   */
  degradedSeconds: number;
  /** Durable writes committed together: how many per batch (one script call and one WAIT). */
  writeBatchSize: HistogramSnapshot;
  /** Time from sending a batch to its WAIT's answer, in ms. */
  waitLatencyMs: HistogramSnapshot;
}

export class Histogram {
  readonly #bounds: readonly number[];
  readonly #counts: number[];
  #count = 0;
  #sum = 0;

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
    this.#counts = bounds.map(() => 0);
  }

  observe(value: number): void {
    this.#count++;
    this.#sum += value;
    const bounds = this.#bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] ?? Infinity)) {
        this.#counts[i] = (this.#counts[i] ?? 0) + 1;
        return;
      }
    }
  }

  snapshot(): HistogramSnapshot {
    let cumulative = 0;
    const buckets = this.#bounds.map((le, i) => {
      cumulative += this.#counts[i] ?? 0;
      return { le, count: cumulative };
    });
    return { count: this.#count, sum: this.#sum, buckets };
  }
}

/** What the {@link WRITE_BATCH_CHANNEL} publishes for each batch of durable writes. */
export interface WriteBatch {
  component: string;
  /** Writes in the batch (one script call, one WAIT). */
  size: number;
  /** From sending the batch to its WAIT's answer, ms. */
  waitMs: number;
}

/** The diagnostics channel each batch of durable writes is published on. */
export const WRITE_BATCH_CHANNEL = "redis-ha-session:write-batch";
const writeBatches = channel(WRITE_BATCH_CHANNEL);

/** The store's counters, shared by its parts. */
export class StoreCounters {
  unavailable = 0;
  notDurable = 0;
  retries = 0;
  failovers = 0;
  corrupt = 0;
  degradations = 0;
  readonly degraded = new Set<string>();
  /** Per degraded master, since when (performance.now()); and the degraded time before, ms. */
  readonly #degradedSince = new Map<string, number>();
  #degradedMs = 0;
  readonly writeBatchSize = new Histogram([1, 2, 5, 10, 20, 50, 100]);
  readonly waitLatencyMs = new Histogram([1, 2, 5, 10, 25, 50, 100, 250, 1000]);

  /** Whose counters these are: `"session"` or `"cache"`, as published batches name it. */
  constructor(readonly component = "session") {}

  /**
   * A batch of durable writes and its WAIT: counted, and published on the
   * {@link WRITE_BATCH_CHANNEL} while anyone subscribes.
   */
  batch(size: number, waitMs: number): void {
    this.writeBatchSize.observe(size);
    this.waitLatencyMs.observe(waitMs);
    if (writeBatches.hasSubscribers) {
      writeBatches.publish({ component: this.component, size, waitMs } satisfies WriteBatch);
    }
  }

  /** A master's writes became degraded (true) or were restored: whether that is a change. */
  degrade(master: string, degraded: boolean): boolean {
    const since = this.#degradedSince.get(master);
    if (degraded) {
      if (since !== undefined) return false;
      this.#degradedSince.set(master, performance.now());
      this.degraded.add(master);
      this.degradations++;
      return true;
    }
    if (since === undefined) return false;
    this.#degradedMs += performance.now() - since;
    this.#degradedSince.delete(master);
    this.degraded.delete(master);
    return true;
  }

  /** Counts a failed store operation by why it failed. */
  count(error: unknown): void {
    if (error instanceof RedisUnavailableError) this.unavailable++;
    else if (error instanceof NotDurableError) this.notDurable++;
  }

  snapshot(): StoreStats {
    return {
      unavailable: this.unavailable,
      notDurable: this.notDurable,
      retries: this.retries,
      failovers: this.failovers,
      corrupt: this.corrupt,
      degradations: this.degradations,
      degraded: [...this.degraded],
      degradedSeconds: this.#degradedSeconds(),
      writeBatchSize: this.writeBatchSize.snapshot(),
      waitLatencyMs: this.waitLatencyMs.snapshot(),
    };
  }

  #degradedSeconds(): number {
    let ms = this.#degradedMs;
    const now = performance.now();
    for (const since of this.#degradedSince.values()) ms += now - since;
    return Math.round(ms) / 1_000;
  }
}
