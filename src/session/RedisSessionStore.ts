import { whenReady } from "../redis/ready.js";
import type { ReadyOptions } from "../redis/ready.js";
import type { Session, SessionData } from "express-session";
import type { Request } from "express";
import type { Cluster, Redis } from "ioredis";
import { normalizeStoreOptions } from "./options.js";
import type { NormalizedStoreOptions, RedisSessionStoreOptions } from "./options.js";
import { Keyspace } from "../redis/Keyspace.js";
import type { FailoverEvent } from "../redis/Keyspace.js";
import { EventedStore } from "./storeEvents.js";
import { budgetOf, requestOf, stateOf, withinRequest } from "./requestState.js";
import { RequestSnapshots } from "./RequestSnapshots.js";
import { answer, settle } from "./settle.js";
import type { Callback } from "./settle.js";
import { SessionCommands } from "./SessionCommands.js";
import { SessionRecords } from "./SessionRecords.js";
import type { StoreStats } from "../redis/stats.js";
import { UserSessions } from "./UserSessions.js";
import { RequestHooks } from "./RequestHooks.js";
import { WRITE_SCRIPT } from "./scripts.js";
import { traced } from "../metrics/tracing.js";
import type { UserSession } from "./UserSessions.js";

/**
 * An express-session store on Redis (single node, Sentinel or Cluster) that stores each session as
 * a hash and writes only what a request changed.
 *
 * @example
 * import session from "express-session";
 * const store = new RedisSessionStore({ redis: "redis-sentinel://10.0.0.5:26379/mymaster" });
 * app.use(session({ store, secret: process.env.SESSION_SECRET!, resave: false }));
 */
export class RedisSessionStore extends EventedStore {
  /** Stores not yet closed: the helpers that take a user id use the one there is. */
  static readonly #open = new Set<RedisSessionStore>();

  /** @internal The stores not yet closed in this process (for the helpers given a user id). */
  static get open(): ReadonlySet<RedisSessionStore> {
    return RedisSessionStore.#open;
  }

  /** The ioredis client sessions go through. */
  readonly client: Redis | Cluster;
  readonly #options: NormalizedStoreOptions;
  /** @internal The store's face of the Redis layer (for healthCheck). */
  readonly keyspace: Keyspace;
  readonly #commands: SessionCommands;
  #closed: Promise<void> | undefined;
  readonly #snapshots = new RequestSnapshots();
  readonly #records: SessionRecords;
  readonly #users: UserSessions;
  /** @internal What redisSession and login() ask of the store about their request. */
  readonly requests: RequestHooks;

  /** @internal redisSession's store, of options it finished (with its cookies' defaults). */
  static of(options: NormalizedStoreOptions): RedisSessionStore {
    return new RedisSessionStore(options as unknown as RedisSessionStoreOptions);
  }

  /** @throws TypeError naming a bad option. */
  constructor(options: RedisSessionStoreOptions) {
    super();
    this.#options = normalizeStoreOptions(options);
    const { topology, waitMs, durability, readFrom, prefix } = this.#options;
    this.keyspace = Keyspace.open(topology, {
      name: "session",
      log: "store",
      waitMs,
      durability,
      writeScript: WRITE_SCRIPT,
      replicaReads: readFrom === "replica",
      events: {
        // express-session stops using a store between `disconnect` and `connect`; redisSession
        // answers 503 meanwhile. Both are emitted only for outages longer than the wait bound.
        disconnect: () => this.emit("disconnect"),
        connect: () => this.emit("connect"),
        failover: (event: FailoverEvent) => this.emit("failover", event),
        // A master's writes acknowledged with fewer copies than `durability.replicas`, and back.
        durability: (change) => this.emit(change.degraded ? "degraded" : "restored", change),
      },
      logger: this.#options.logger,
      unconfirmable:
        "every session write waits for confirmations it cannot get and answers 503 after " +
        `\`unavailable.waitMs\` (${waitMs} ms)`,
    });
    this.client = this.keyspace.client;
    this.#commands = new SessionCommands(this.keyspace, prefix);
    this.#records = new SessionRecords(this.#commands, this.#options, this.#snapshots);
    this.#users = new UserSessions(this.#commands, this.#options);
    this.requests = new RequestHooks(this.keyspace, this.#commands, this.#snapshots, this.#users);
    RedisSessionStore.#open.add(this);
  }

  /**
   * express-session's regenerate (destroy, then a new id and session), the destroy within what
   * the request may still wait; for a request logging in on a Cluster the new id starts with the
   * user's hash tag, whatever made it (`genid`).
   */
  override regenerate(req: Request, callback: (error?: unknown) => void): void {
    const state = stateOf(req);
    const tag = state.loginTag;
    state.loginTag = undefined;
    settle(this.requests.destroyFor(req), (error?: unknown) => {
      // express-session's own (it sets `generate` on the store it is given).
      (this as unknown as { generate(req: Request): void }).generate(req);
      if (tag !== undefined && !req.sessionID.startsWith(tag)) {
        const { cookie } = req.session;
        req.sessionID = tag + req.sessionID;
        // express-session's own: a new, empty session under the id (not one read from Redis).
        super.createSession(req, { cookie });
      }
      callback(error ?? undefined);
    });
  }

  /**
   * The user's live sessions, from the per-user index, within `unavailable.waitMs`.
   * @throws RedisUnavailableError when Redis does not answer within it
   */
  sessionsOf(userId: string): Promise<UserSession[]> {
    return this.#users.list(userId);
  }

  /**
   * Deletes every session of the user; returns how many there were. Within what `req` may still
   * wait, given one; else within `unavailable.waitMs`.
   * @throws RedisUnavailableError when Redis does not answer within it
   */
  destroyUserSessions(userId: string, req?: Request): Promise<number> {
    return withinRequest(req, "logout everywhere", this.keyspace, (budget) =>
      this.#users.destroyAll(userId, budget),
    );
  }

  /** False during a lasting outage (after `disconnect`, until `connect`). */
  get available(): boolean {
    return this.keyspace.outages.available;
  }

  /** The master the client is connected to (`host:port`) and when it last changed. */
  get connection(): { master: string | undefined; lastFailoverAt: Date | undefined } {
    return this.keyspace.connection;
  }

  /**
   * Replicas a write must reach now: `durability.replicas`, or for "all" what Sentinel lists for
   * the master (undefined until a Sentinel has answered).
   */
  get requiredReplicas(): number | undefined {
    return this.keyspace.requiredReplicas();
  }

  /** Resolves once Redis answers as the options ask; rejects naming the cause (NotReadyError). */
  ready(options?: ReadyOptions): Promise<void> {
    return whenReady(this.keyspace, options);
  }

  /** Counters of what the store has done: 503s, retries, failovers, write batches, WAIT time. */
  stats(): StoreStats {
    return this.keyspace.counters.snapshot();
  }

  /** The options in force, after defaults. */
  get settings(): Readonly<NormalizedStoreOptions> {
    return this.#options;
  }

  /**
   * The session stored under `sid`, or null (none, expired, or unreadable). Without a callback,
   * a promise (rejected with RedisUnavailableError when Redis does not answer in time).
   */
  override get(sid: string): Promise<SessionData | null>;
  override get(sid: string, callback: Callback<SessionData | null>): void;
  override get(
    sid: string,
    callback?: Callback<SessionData | null>,
  ): Promise<SessionData | null> | undefined {
    const read = () => this.#records.read(sid, this.requests.readToken);
    return answer(traced("session.get", undefined, read), callback);
  }

  /** Saves what changed in `session`; without a callback, a promise. */
  override set(sid: string, session: SessionData): Promise<void>;
  override set(sid: string, session: SessionData, callback: Callback): void;
  override set(sid: string, session: SessionData, callback?: Callback): Promise<void> | undefined {
    this.#records.undoMaxAgeDrift(sid, session);
    const req = requestOf(session);
    const save = () =>
      withinRequest(req, "session write", this.keyspace, async (budget) => {
        const token = await this.#records.save(sid, session, budget);
        if (token !== undefined && req !== undefined) stateOf(req).token = token;
      });
    return answer(traced("session.set", undefined, save), callback);
  }

  /** Renews the session's expiry (at most once per `touchAfter`); without a callback, a promise. */
  override touch(sid: string, session: SessionData): Promise<void>;
  override touch(sid: string, session: SessionData, callback: Callback): void;
  override touch(
    sid: string,
    session: SessionData,
    callback?: Callback,
  ): Promise<void> | undefined {
    this.#records.undoMaxAgeDrift(sid, session);
    if (this.#records.renewedByThisRequest(sid, session)) {
      // Answered at once: express-session then ends the response in one write instead of two.
      if (callback === undefined) return Promise.resolve();
      callback();
      return;
    }
    const renew = () =>
      withinRequest(requestOf(session), "session touch", this.keyspace, (budget) =>
        this.#records.renew(sid, session, budget),
      );
    return answer(traced("session.touch", undefined, renew), callback);
  }

  /** Deletes the session; without a callback, a promise. */
  override destroy(sid: string): Promise<void>;
  override destroy(sid: string, callback: Callback): void;
  override destroy(sid: string, callback?: Callback): Promise<void> | undefined {
    const destroy = () => this.#commands.destroy(sid);
    return answer(traced("session.destroy", undefined, destroy), callback);
  }

  /** Every session under the prefix, by id (walked with SCAN); without a callback, a promise. */
  override all(): Promise<Record<string, SessionData>>;
  override all(callback: Callback<Record<string, SessionData>>): void;
  override all(
    callback?: Callback<Record<string, SessionData>>,
  ): Promise<Record<string, SessionData>> | undefined {
    return answer(this.#records.readAll(), callback);
  }

  /** How many sessions there are under the prefix; without a callback, a promise. */
  override length(): Promise<number>;
  override length(callback: Callback<number>): void;
  override length(callback?: Callback<number>): Promise<number> | undefined {
    return answer(
      this.ids().then((ids) => ids.length),
      callback,
    );
  }

  /** Deletes every session under the prefix; without a callback, a promise. */
  override clear(): Promise<void>;
  override clear(callback: Callback): void;
  override clear(callback?: Callback): Promise<void> | undefined {
    return answer(this.#records.removeAll(), callback);
  }

  /** Keeps the fields as read, so that saving this session writes only what changed. */
  override createSession(req: Request, data: SessionData): Session & SessionData {
    const session = super.createSession(req, data);
    this.#snapshots.adopt(data, session);
    // The read just done counts against the request's wait bound.
    budgetOf(req, this.keyspace).charge(this.#snapshots.of(session)?.readMs ?? 0);
    return session;
  }

  /** Every session id under the prefix, walked with SCAN. */
  ids(): Promise<string[]> {
    return this.#records.ids();
  }

  /**
   * Leaves the connection set: the last store or cache on it closes it, and the client too if a
   * store created it; a client you passed in stays open for you to close.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      RedisSessionStore.#open.delete(this);
      await this.keyspace.close();
    })();
    return this.#closed;
  }
}
