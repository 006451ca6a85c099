import { createHash } from "node:crypto";
import type { NormalizedCacheOptions } from "./options.js";
import { CacheKeys } from "./CacheKeys.js";
import { CACHE_SCRIPTS, CHANGE_DEADLINE_ARG, CHANGE_SCRIPT } from "./scripts.js";
import type { AcquireReply } from "./scripts.js";
import type { CacheCounters } from "./CacheCounters.js";
import { RetryableError } from "../errors/internal/RetryableError.js";
import { UnsupportedTopologyError } from "../errors/UnsupportedTopologyError.js";
import type { Backend } from "../redis/backend/Backend.js";
import type { ConnectionEvents, OutageWatch } from "../redis/connection/ConnectionMonitor.js";
import { debugFor } from "../redis/debug.js";
import { withinDeadline } from "../redis/connection/deadline.js";
import type { WaitContext } from "../redis/connection/deadline.js";
import type { RedisConnection } from "../redis/RedisConnection.js";
import { RoutedWriter } from "../redis/writes/RoutedWriter.js";
import type { ServerClock } from "../redis/connection/ServerClock.js";
import { addressOf } from "../redis/sentinel/SentinelWatch.js";
import { StoreCounters } from "../redis/stats.js";

const log = debugFor("cache");

/** Corrupt keys already reported, at most this many remembered. */
const REPORTED_LIMIT = 1_000;

/**
 * Time a cache operation may still wait for Redis, spent by each command it sends: one bound for
 * all of a call's Redis commands, however many it needs (a call waiting for another process's
 * load is not spending it).
 */
export class Budget {
  constructor(
    public remainingMs: number,
    private readonly context: WaitContext,
  ) {}

  spend<T>(what: string, attempt: (deadline: number) => Promise<T>): Promise<T> {
    const started = Date.now();
    const charge = () => {
      this.remainingMs -= Date.now() - started;
    };
    const result = withinDeadline(what, Math.max(1, this.remainingMs), this.context, attempt);
    result.then(charge, charge);
    return result;
  }
}

/** The cache's Redis commands, each within a budget; changes confirmed by replicas. */
export class CacheRedis {
  readonly backend: Backend;
  readonly keys: CacheKeys;
  /** Whether Redis is reachable, by the cache's wait bound. */
  readonly outages: OutageWatch;
  readonly #clock: ServerClock;
  readonly #durable: RoutedWriter | undefined;
  readonly #reported = new Set<string>();
  /** What bounds a read's waits (`budget()`), and a change's. */
  readonly #reads: WaitContext;
  readonly #changes: WaitContext;

  constructor(
    connection: RedisConnection,
    readonly options: NormalizedCacheOptions,
    events: ConnectionEvents,
    private readonly counters: CacheCounters,
  ) {
    this.backend = connection.backend;
    this.keys = new CacheKeys(options.prefix);
    this.outages = connection.monitor.watch(options.waitMs, events);
    this.#reads = { setBy: "option `unavailable.waitMs`", connection: connection.monitor };
    this.#changes = { setBy: "option `unavailable.changeWaitMs`", connection: connection.monitor };
    this.#clock = connection.clock;
    if (!this.#clock.current) void this.#clock.measure().catch(() => undefined);
    const { replicas, timeoutMs } = options.durability;
    if (replicas === 0) return;
    if (replicas !== "all") {
      connection.expectReplicas(
        replicas,
        "every change (writeThrough, set, invalidate, invalidateTag) waits for confirmations " +
          `it cannot get and fails after \`unavailable.changeWaitMs\` (${options.changeWaitMs} ms)`,
      );
    }
    const quorum = this.backend.sentinelWatch?.quorum();
    if (replicas === "all" && quorum === undefined) {
      throw new UnsupportedTopologyError(
        '`durability.replicas: "all"` needs a Sentinel topology this library connects to',
      );
    }
    this.#durable = new RoutedWriter(connection.lanes(), {
      batchScript: CHANGE_SCRIPT,
      replicas: replicas === "all" ? () => quorum?.knownReplicas : () => replicas,
      timeoutMs,
      counters: new StoreCounters(),
      vouches: quorum === undefined ? undefined : (master) => quorum.vouches(addressOf(master)),
    });
  }

  /** The Redis wait budget of one call: `unavailable.waitMs` for all its commands together. */
  budget(): Budget {
    return new Budget(this.options.waitMs, this.#reads);
  }

  /** Now on the server's clock, as last measured. */
  serverNow(): number {
    return this.#clock.toServer(Date.now());
  }

  /** The stored string of a value (null: none; a key of another type counts as none). */
  read(redisKey: string, budget: Budget): Promise<string | null> {
    return budget.spend("cache read", () =>
      this.backend.send("GET", [redisKey]).then(
        (reply) => (typeof reply === "string" ? reply : null),
        (error: unknown) => {
          if (error instanceof Error && error.message.startsWith("WRONGTYPE")) {
            this.reportCorrupt(redisKey, "a Redis value of another type");
            return null;
          }
          throw error;
        },
      ),
    );
  }

  /** Each tag's last invalidation (server ms; 0: never), in `tags`' order. */
  tagTimes(tags: readonly string[], budget: Budget): Promise<number[]> {
    return budget.spend("cache tag read", () =>
      Promise.all(
        tags.map((tag) =>
          this.backend.send("GET", [this.keys.tag(tag)]).then((reply) => Number(reply ?? 0) || 0),
        ),
      ),
    );
  }

  acquire(
    redisKey: string,
    token: string,
    leaseMs: number,
    fenceTtlMs: number,
    minCreated: number,
    overwrite: boolean,
    budget: Budget,
  ): Promise<AcquireReply> {
    return budget.spend(
      "cache lease",
      async () =>
        (await this.backend.runScript(
          CACHE_SCRIPTS.acquire,
          [redisKey],
          [token, leaseMs, fenceTtlMs, minCreated, overwrite ? 1 : 0],
        )) as AcquireReply,
    );
  }

  renew(redisKey: string, token: string, leaseMs: number): Promise<unknown> {
    return this.backend.runScript(CACHE_SCRIPTS.renew, [redisKey], [token, leaseMs]);
  }

  /** The fill script (see scripts.ts): 1 stored, 0 refused as stale, -1 nothing stored. */
  async fill(redisKey: string, args: (string | number)[], budget: Budget): Promise<number> {
    return Number(
      await budget.spend("cache fill", () =>
        this.backend.runScript(CACHE_SCRIPTS.fill, [redisKey], args),
      ),
    );
  }

  /**
   * A change (see the change script), confirmed by `durability.replicas` replicas before it
   * resolves, within `changeWaitMs`; `args` with a placeholder at the deadline.
   */
  change(redisKey: string, args: (string | number)[], what: string): Promise<unknown> {
    const durable = this.#durable;
    return withinDeadline(what, this.options.changeWaitMs, this.#changes, async (deadline) => {
      let reply: unknown;
      if (durable !== undefined) {
        reply = await durable.write(redisKey, args, deadline);
      } else {
        if (!this.#clock.current) await this.#clock.measure();
        if (Date.now() >= deadline) throw new RetryableError("the change's deadline passed");
        args[CHANGE_DEADLINE_ARG] = this.#clock.toServer(deadline);
        const replies = await this.backend.runScript(
          CHANGE_SCRIPT.script,
          [redisKey],
          [args.length, ...args],
        );
        reply = Array.isArray(replies) ? replies[0] : replies;
      }
      if (reply === -1) throw new RetryableError("the change reached Redis after its deadline");
      return reply;
    });
  }

  /** Reports a key that holds something the cache did not write, once, by a hash of the key. */
  reportCorrupt(redisKey: string, why: string): void {
    this.counters.corrupt++;
    if (this.#reported.has(redisKey)) return;
    if (this.#reported.size >= REPORTED_LIMIT) this.#reported.clear();
    this.#reported.add(redisKey);
    const hash = createHash("sha256").update(redisKey).digest("hex").slice(0, 12);
    log("corrupt cache entry #%s: %s; taken as a miss", hash, why);
  }

  close(): void {
    this.outages.stop();
    this.#durable?.close();
  }
}
