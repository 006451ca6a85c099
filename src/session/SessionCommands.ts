import type { Cluster, Redis } from "ioredis";
import type { NormalizedStoreOptions } from "./options.js";
import type { ConnectionEvents, OutageWatch } from "../redis/connection/ConnectionMonitor.js";
import { RetryableError } from "../errors/internal/RetryableError.js";
import { withinDeadline } from "../redis/connection/deadline.js";
import type { WaitContext } from "../redis/connection/deadline.js";
import { RoutedWriter } from "../redis/writes/RoutedWriter.js";
import { StoreCounters } from "../redis/stats.js";
import type { Backend } from "../redis/backend/Backend.js";
import type { RedisConnection } from "../redis/RedisConnection.js";
import { UnsupportedTopologyError } from "../errors/UnsupportedTopologyError.js";
import { addressOf } from "../redis/sentinel/SentinelWatch.js";
import type { ServerClock } from "../redis/connection/ServerClock.js";
import { DEADLINE_ARG, SESSION_SCRIPTS, WRITE_SCRIPT } from "./scripts.js";
import { SessionKeys } from "./SessionKeys.js";
import type { ReadReply, WriteArgs, WriteMode } from "./scripts.js";
import { ReadFence } from "./ReadFence.js";
import { firstWriteReply, hashReply, offsetWriteReply, writeReply } from "./replies.js";
import type { ReplicaRouter } from "../redis/replicas/ReplicaRouter.js";
import { runScript } from "../redis/scripts.js";
import type { Script } from "../redis/scripts.js";
import type { SessionRead } from "./replies.js";

/**
 * The Redis commands of the store, each bounded by `unavailable.waitMs` and retried through
 * failovers; writes are confirmed by `durability.replicas` replicas before they resolve.
 */
export class SessionCommands {
  readonly backend: Backend;
  /** Whether Redis is reachable, by this store's wait bound. */
  readonly outages: OutageWatch;
  readonly keys: SessionKeys;
  readonly client: Redis | Cluster;
  /** Confirms writes with WAIT when durability asks for replicas. */
  readonly #durable: RoutedWriter | undefined;
  /** The server's clock, for the deadlines of writes sent on the main client. */
  readonly #clock: ServerClock;
  /**
   * Replicas a write must reach: `durability.replicas`, or for "all" what Sentinel lists
   * (undefined until a Sentinel has answered).
   */
  readonly requiredReplicas: () => number | undefined;
  /** Which reads count as from the master a Sentinel majority names (see ReadFence). */
  readonly #fence: ReadFence;
  /** `readFrom: "replica"`: which replica may serve a read. */
  readonly #replicas: ReplicaRouter | undefined;
  /** What `store.stats()` reports. */
  readonly counters = new StoreCounters();
  /** What bounds the store's waits, and the connection they wait for. */
  readonly #context: WaitContext;

  constructor(
    connection: RedisConnection,
    private readonly options: NormalizedStoreOptions,
    events: ConnectionEvents,
  ) {
    const { backend } = connection;
    this.backend = backend;
    this.client = backend.client;
    this.keys = new SessionKeys(options.prefix, !backend.keysTogether);
    this.outages = connection.monitor.watch(options.waitMs, {
      ...events,
      failover: (event) => {
        this.counters.failovers++;
        events.failover(event);
      },
    });
    this.#clock = connection.clock;
    this.#context = {
      setBy: "option `unavailable.waitMs`",
      connection: connection.monitor,
      onRetry: () => this.counters.retries++,
    };
    const { replicas, timeoutMs } = options.durability;
    if (typeof replicas === "number" && replicas > 0) {
      connection.expectReplicas(
        replicas,
        `every session write waits for confirmations it cannot get and answers 503 after ` +
          `\`unavailable.waitMs\` (${options.waitMs} ms)`,
      );
    }
    const watch = backend.sentinelWatch;
    // Durable writes on Sentinel are acknowledged only on the master a Sentinel majority names.
    const quorum =
      replicas === "all" || replicas > 0 || options.durability.fenceReads
        ? watch?.quorum()
        : undefined;
    this.#fence = new ReadFence(quorum, options.durability.fenceReads, backend);
    if (replicas === "all") {
      if (quorum === undefined) {
        throw new UnsupportedTopologyError(
          '`durability.replicas: "all"` needs a Sentinel topology this library connects to ' +
            "(`{ sentinels, name }` or a redis-sentinel:// URL), not a client passed in",
        );
      }
      this.requiredReplicas = () => quorum.knownReplicas;
    } else {
      this.requiredReplicas = () => replicas;
    }
    if (options.readFrom === "replica") this.#replicas = backend.openReplicaReads();
    if (replicas === "all" || replicas > 0) {
      this.#durable = new RoutedWriter(connection.lanes(), {
        batchScript: WRITE_SCRIPT,
        replicas: this.requiredReplicas,
        timeoutMs,
        counters: this.counters,
        offsets: this.#replicas !== undefined,
        vouches:
          quorum === undefined ? undefined : (connection) => quorum.vouches(addressOf(connection)),
      });
    }
  }

  /** Reads a session and renews its TTL in the same command (see the read script for `ttlMs`). */
  readAndRenew(sid: string, ttlMs: number, defaultTtlMs: number): Promise<SessionRead> {
    return this.bounded("session read", () =>
      this.#readScript(sid, ttlMs, defaultTtlMs).then(this.#fence.sessionRead),
    );
  }

  /** The read script: the session, its TTL renewed as `ttlMs` says. */
  async #readScript(sid: string, ttlMs: number, defaultTtlMs: number): Promise<ReadReply> {
    const reply = await this.backend.runScript(
      SESSION_SCRIPTS.read,
      [this.keys.session(sid)],
      [ttlMs, defaultTtlMs, this.keys.indexArgFor(sid)],
    );
    return reply as ReadReply;
  }

  /**
   * Reads a session with a plain HGETALL, leaving a hash's TTL alone. A key that is not a hash (a
   * connect-redis value) goes through the read script instead, which renews it as `ttlMs` says.
   */
  read(sid: string, ttlMs: number, defaultTtlMs: number, token = 0): Promise<SessionRead> {
    const key = this.keys.session(sid);
    const fromMaster = () =>
      // The reply as Redis sends it (capitalised: ioredis does not turn it into an object).
      this.backend.send("HGETALL", [key]).then(
        (reply) => this.#fence.sessionRead(hashReply(reply)),
        (error: unknown) => {
          if (!(error instanceof Error && error.message.startsWith("WRONGTYPE"))) throw error;
          return this.#readScript(sid, ttlMs, defaultTtlMs).then(this.#fence.sessionRead);
        },
      );
    const replica = this.#replicas?.pick(token, key);
    if (replica === undefined) return this.bounded("session read", fromMaster);
    // A replica that has what the reader needs; a miss (or anything else) is read on the master:
    // lag must never log anyone out.
    return this.bounded("session read", () =>
      replica.send("HGETALL", [key]).then((reply) => {
        const read = hashReply(reply);
        return read === null ? fromMaster() : { reply: read, vouched: true };
      }, fromMaster),
    );
  }

  /**
   * Sets a session's TTL and records when (`$touched`); does nothing for a session that is gone.
   */
  renew(sid: string, ttlMs: number, waitMs = this.options.waitMs): Promise<void> {
    return this.bounded(
      "session touch",
      async () => {
        await this.backend.runScript(
          SESSION_SCRIPTS.renew,
          [this.keys.session(sid)],
          [ttlMs, Date.now(), this.keys.indexArgFor(sid)],
        );
      },
      waitMs,
    );
  }

  /**
   * Applies a write and, if durability asks for it, waits until enough replicas have it.
   * `ttlMs` undefined leaves the TTL as it is ("update" mode only); `waitMs` is what the request
   * may still wait. `checks` (field, value read: "" for none): applied only if every field still
   * holds what this request read, or what this write gives it (see the write script).
   * @returns whether it was written (false: the session was destroyed meanwhile)
   * @throws NotDurableError when replicas did not confirm within the wait bound
   * @throws RedisUnavailableError when a checked field holds something else
   */
  write(
    sid: string,
    mode: WriteMode,
    ttlMs: number | undefined,
    {
      changed,
      removed,
      checks = [],
      uid = "",
      onOffset,
    }: {
      changed: string[];
      removed: string[];
      checks?: string[];
      uid?: string;
      /** Given the write's causal token, with `readFrom: "replica"`. */
      onOffset?: (offset: number) => void;
    },
    waitMs = this.options.waitMs,
  ): Promise<boolean> {
    const key = this.keys.session(sid);
    const durable = this.#durable;
    return this.bounded(
      "session write",
      (deadline) => {
        const now = Date.now();
        const pairs = changed.length / 2 + (ttlMs === undefined ? 0 : 1);
        const args: WriteArgs = [
          mode,
          ttlMs ?? "",
          this.keys.indexArgFor(sid),
          sid,
          uid,
          now,
          deadline,
          pairs,
          checks.length / 2,
        ];
        // Setting the TTL records when (`$touched`), so reads know when it is due again.
        if (ttlMs !== undefined) args.push("$touched", String(now));
        for (const value of changed) args.push(value);
        for (const value of checks) args.push(value);
        for (const field of removed) args.push(field);
        if (durable !== undefined) {
          return durable
            .write(key, args, deadline)
            .then((result) =>
              this.#replicas === undefined
                ? writeReply(result)
                : offsetWriteReply(result, onOffset),
            );
        }
        const clock = this.#clock;
        const send = () => {
          // Measuring may have waited for a reconnection: a request that gave up meanwhile sends
          // nothing (as the durable writer's queue does).
          if (Date.now() >= deadline) throw new RetryableError("the write's deadline passed");
          // The deadline on the server's clock, which the script checks it against.
          args[DEADLINE_ARG] = clock.toServer(deadline);
          return this.backend
            .runScript(WRITE_SCRIPT.script, [key], [args.length, ...args])
            .then(firstWriteReply);
        };
        return clock.current ? send() : clock.measure().then(send);
      },
      waitMs,
    );
  }

  /** Deletes a session and takes it out of its user's index. */
  destroy(sid: string, waitMs = this.options.waitMs): Promise<void> {
    return this.bounded(
      "session delete",
      async () => {
        await this.#deletion(
          SESSION_SCRIPTS.destroy,
          [this.keys.session(sid)],
          [this.keys.indexArgFor(sid), sid],
        );
      },
      waitMs,
    );
  }

  /** Deletes every session in a user's index, and the index; returns how many it listed. */
  destroyUser(index: string, waitMs = this.options.waitMs): Promise<number> {
    return this.bounded(
      "logout everywhere",
      async () =>
        Number(await this.#deletion(SESSION_SCRIPTS.destroyUser, [index], [this.keys.prefix])),
      waitMs,
    );
  }

  /** Deletes keys (one command each: in a Cluster they may sit in different slots). */
  delete(...keys: string[]): Promise<void> {
    return this.bounded("session delete", async () => {
      await Promise.all(keys.map((key) => this.client.unlink(key)));
    });
  }

  /** Stops watching the connection and writing on it. */
  close(): void {
    this.outages.stop();
    this.#durable?.close();
    this.#replicas?.close();
  }

  /** A deleting script; with replica reads, confirmed so that no replica serves what it deleted. */
  #deletion(script: Script, keys: string[], args: (string | number)[]): Promise<unknown> {
    const replicas = this.#replicas;
    if (replicas === undefined) return this.backend.runScript(script, keys, args);
    return replicas.confirmedByAll(
      (master) => runScript(master, script, keys, args),
      keys[0] ?? "",
    );
  }

  /**
   * Runs `attempt` (given its deadline) until it succeeds, retrying what a failover causes, for
   * at most `waitMs`; counted in the store's stats.
   * @throws RedisUnavailableError past `waitMs`
   */
  bounded<T>(
    what: string,
    attempt: (deadline: number) => Promise<T>,
    waitMs = this.options.waitMs,
  ): Promise<T> {
    const rest = waitMs < this.options.waitMs ? " in what the request had left of its wait" : "";
    const { counters } = this;
    return withinDeadline(`${what}${rest}`, waitMs, this.#context, attempt).catch(
      (error: unknown) => {
        counters.count(error);
        throw error;
      },
    );
  }
}
