import { Store } from "express-session";
import type { Session, SessionData } from "express-session";
import type { Request } from "express";
import type { Cluster, Redis } from "ioredis";
import { normalizeStoreOptions } from "./options.js";
import type { NormalizedStoreOptions, RedisSessionStoreOptions } from "./options.js";
import type { Backend } from "../redis/backend/Backend.js";
import { RedisConnection } from "../redis/RedisConnection.js";
import { chargeWait, recordToken, requestOf, withinRequest } from "./requestState.js";
import type { WaitBound } from "./requestState.js";
import { RequestSnapshots } from "./RequestSnapshots.js";
import { settle } from "./settle.js";
import type { Callback } from "./settle.js";
import type { FailoverEvent } from "../redis/connection/ConnectionMonitor.js";
import type { ConnectionState } from "../redis/connection/deadline.js";
import { SessionCommands } from "./SessionCommands.js";
import { SessionRecords } from "./SessionRecords.js";
import type { StoreStats } from "../redis/stats.js";
import { UserSessions } from "./UserSessions.js";
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
export class RedisSessionStore extends Store {
  /** Stores not yet closed: the helpers that take a user id use the one there is. */
  static readonly #open = new Set<RedisSessionStore>();

  /** @internal The stores not yet closed in this process (for the helpers given a user id). */
  static get open(): ReadonlySet<RedisSessionStore> {
    return RedisSessionStore.#open;
  }

  /** The ioredis client sessions go through. */
  readonly client: Redis | Cluster;
  readonly #options: NormalizedStoreOptions;
  readonly #redis: SessionCommands;
  readonly #connection: RedisConnection;
  #closed: Promise<void> | undefined;
  readonly #snapshots = new RequestSnapshots();
  readonly #records: SessionRecords;
  readonly #users: UserSessions;
  /** The wait bound of this store's requests (see requestState.ts). */
  readonly #bound: WaitBound;
  /** The causal token of the request whose session express-session reads now (see withReadToken). */
  #readToken = 0;
  /** The hash tag the next id of a request logging in must start with (Cluster). */
  readonly #loginTags = new WeakMap<Request, string>();

  /** @throws TypeError naming a bad option. */
  constructor(options: RedisSessionStoreOptions | NormalizedStoreOptions) {
    super();
    this.#options = normalizeStoreOptions(options);
    this.#connection = RedisConnection.acquire(this.#options.topology);
    this.client = this.#connection.client;
    this.#redis = new SessionCommands(this.#connection, this.#options, {
      // express-session stops using a store between `disconnect` and `connect`; redisSession
      // answers 503 meanwhile. Both are emitted only for outages longer than the wait bound.
      disconnect: () => this.emit("disconnect"),
      connect: () => this.emit("connect"),
      failover: (event: FailoverEvent) => this.emit("failover", event),
    });
    this.#bound = { waitMs: this.#options.waitMs, counters: this.#redis.counters };
    this.#records = new SessionRecords(this.#redis, this.#options, this.#snapshots);
    this.#users = new UserSessions(this.#redis, this.#options);
    RedisSessionStore.#open.add(this);
  }

  /**
   * Binds the session to a user: its next save records the user id with it and adds it to the
   * user's index (`<prefix>user:<userId>`), which sessionsOf and logoutEverywhere read.
   * Used by login().
   */
  bindToUser(session: SessionData, userId: string): void {
    this.#snapshots.bind(session, userId);
  }

  /**
   * @internal Used by login(): the next regenerate() of `req` issues an id in the slot of the
   * user's index (on a Cluster; elsewhere any id is). Within what the request may still wait.
   */
  async prepareLogin(req: Request, userId: string): Promise<void> {
    const tag = await withinRequest(req, "login", this.#bound, (waitMs) =>
      this.#users.tagOf(userId, waitMs),
    );
    if (tag !== "") this.#loginTags.set(req, tag);
  }

  /**
   * express-session's regenerate (destroy, then a new id and session), the destroy within what
   * the request may still wait; for a request logging in on a Cluster the new id starts with the
   * user's hash tag, whatever made it (`genid`).
   */
  override regenerate(req: Request, callback: (error?: unknown) => void): void {
    const tag = this.#loginTags.get(req);
    this.#loginTags.delete(req);
    settle(this.destroyFor(req), (error?: unknown) => {
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
   * @internal Deletes the request's session within what the request may still wait (logout(),
   * regenerate).
   */
  destroyFor(req: Request): Promise<void> {
    return withinRequest(req, "session delete", this.#bound, (waitMs) =>
      this.#redis.destroy(req.sessionID, waitMs),
    );
  }

  /** The user id a session was bound to by login(), if any. */
  userIdOf(session: SessionData): string | undefined {
    return this.#snapshots.userIdOf(session);
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
    return withinRequest(req, "logout everywhere", this.#bound, (waitMs) =>
      this.#users.destroyAll(userId, waitMs),
    );
  }

  /** False during a lasting outage (after `disconnect`, until `connect`). */
  get available(): boolean {
    return this.#redis.outages.available;
  }

  /** The master the client is connected to (`host:port`) and when it last changed. */
  get connection(): { master: string | undefined; lastFailoverAt: Date | undefined } {
    const { master, lastFailoverAt } = this.#connection.monitor;
    return { master, lastFailoverAt };
  }

  /**
   * Replicas a write must reach now: `durability.replicas`, or for "all" what Sentinel lists for
   * the master (undefined until a Sentinel has answered).
   */
  get requiredReplicas(): number | undefined {
    return this.#redis.requiredReplicas();
  }

  /** Counters of what the store has done: 503s, retries, failovers, write batches, WAIT time. */
  stats(): StoreStats {
    return this.#redis.counters.snapshot();
  }

  /** @internal redisSession turned a request away during a lasting outage (a 503). */
  countTurnedAway(): void {
    this.#redis.counters.unavailable++;
  }

  /** The options in force, after defaults. */
  get settings(): Readonly<NormalizedStoreOptions> {
    return this.#options;
  }

  override get(sid: string, callback: Callback<SessionData | null>): void {
    settle(this.#records.read(sid, this.#readToken), callback);
  }

  /**
   * @internal Runs `run` (express-session's handler, which calls `get` synchronously) with the
   * request's causal token: a replica read must have reached it (`readFrom: "replica"`).
   */
  withReadToken(token: number, run: () => void): void {
    this.#readToken = token;
    try {
      run();
    } finally {
      this.#readToken = 0;
    }
  }

  override set(sid: string, session: SessionData, callback?: Callback): void {
    this.#records.undoMaxAgeDrift(sid, session);
    const req = requestOf(session);
    settle(
      withinRequest(req, "session write", this.#bound, (waitMs) =>
        this.#records.save(sid, session, waitMs, (offset) => recordToken(req, offset)),
      ),
      callback,
    );
  }

  override touch(sid: string, session: SessionData, callback?: Callback): void {
    this.#records.undoMaxAgeDrift(sid, session);
    if (this.#records.renewedByThisRequest(sid, session)) {
      // Answered at once: express-session then ends the response in one write instead of two.
      callback?.();
      return;
    }
    settle(
      withinRequest(requestOf(session), "session touch", this.#bound, (waitMs) =>
        this.#records.renew(sid, session, waitMs),
      ),
      callback,
    );
  }

  override destroy(sid: string, callback?: Callback): void {
    settle(this.#redis.destroy(sid), callback);
  }

  override all(callback: Callback<Record<string, SessionData>>): void {
    settle(this.#records.readAll(), callback);
  }

  override length(callback: Callback<number>): void {
    settle(
      this.ids().then((ids) => ids.length),
      callback,
    );
  }

  override clear(callback?: Callback): void {
    settle(this.#records.removeAll(), callback);
  }

  /** Keeps the fields as read, so that saving this session writes only what changed. */
  override createSession(req: Request, data: SessionData): Session & SessionData {
    const session = super.createSession(req, data);
    this.#snapshots.adopt(data, session);
    // The read just done counts against the request's wait bound.
    chargeWait(req, this.#snapshots.of(session)?.readMs ?? 0);
    return session;
  }

  /**
   * Whether saving `session` would write anything: a field changed, added or removed since this
   * request read it, or, for a new session, anything besides the cookie.
   */
  hasUnsavedChanges(session: SessionData): boolean {
    return this.#snapshots.hasUnsavedChanges(session);
  }

  /**
   * Puts the session's data back to what this request last read or wrote, dropping changes that
   * could not be saved. A new session keeps only its cookie.
   */
  revertUnsavedChanges(session: SessionData): void {
    this.#snapshots.revert(session);
  }

  /** Every session id under the prefix, walked with SCAN. */
  ids(): Promise<string[]> {
    return this.#records.ids();
  }

  /** @internal The topology's backend, for the health check. */
  get backend(): Backend {
    return this.#redis.backend;
  }

  /** @internal What is known of the connection's errors, for the health check. */
  get connectionState(): ConnectionState {
    return this.#connection.monitor;
  }

  /**
   * Leaves the connection set: the last store or cache on it closes it, and the client too if a
   * store created it; a client you passed in stays open for you to close.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      RedisSessionStore.#open.delete(this);
      this.#redis.close();
      await this.#connection.release();
    })();
    return this.#closed;
  }
}
