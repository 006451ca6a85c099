import { Store } from "express-session";
import type { Cookie, Session, SessionData } from "express-session";
import type { Request } from "express";
import type { Cluster, Redis } from "ioredis";
import { debugFor } from "../redis/debug.js";
import { RedisUnavailableError } from "../errors/RedisUnavailableError.js";
import { SessionTooLargeError } from "../errors/SessionTooLargeError.js";
import { DEFAULTS, normalizeStoreOptions } from "./options.js";
import type { NormalizedStoreOptions, RedisSessionStoreOptions } from "./options.js";
import { clientFor } from "../redis/createRedisClient.js";
import {
  CorruptSessionError,
  decodeSession,
  diffSessions,
  encodeSession,
  encodedSize,
  mayExceed,
} from "./codec.js";
import { escapeGlob } from "../redis/scan.js";
import { backendFor } from "../redis/backend/backendFor.js";
import type { Backend } from "../redis/backend/Backend.js";
import { liveStores } from "./liveStores.js";
import { chargeWait, remainingWait, requestOf } from "./requestBudget.js";
import { RequestSnapshots } from "./RequestSnapshots.js";
import { fingerprint, settle } from "./settle.js";
import type { Callback } from "./settle.js";
import type { FailoverEvent } from "../redis/ConnectionMonitor.js";
import { SessionCommands } from "./SessionCommands.js";
import type { StoreStats } from "../redis/stats.js";
import type { WriteMode } from "./scripts.js";
import { UserSessions } from "./UserSessions.js";
import type { UserSession } from "./UserSessions.js";

const log = debugFor("store");

/** How far express-session's touch() can move `originalMaxAge` (see #undoMaxAgeDrift). */
const MAX_AGE_DRIFT_MS = 1_000;

interface MaxAge {
  originalMaxAge?: unknown;
}

/** Corrupt keys already reported, so a bad key logs once, not on every request. */
const REPORTED_LIMIT = 1000;

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
  /** The ioredis client sessions go through. */
  readonly client: Redis | Cluster;
  readonly #options: NormalizedStoreOptions;
  readonly #redis: SessionCommands;
  readonly #ownsClient: boolean;
  readonly #snapshots = new RequestSnapshots();
  readonly #reported = new Set<string>();
  readonly #users: UserSessions;

  /** @throws TypeError naming a bad option. */
  constructor(options: RedisSessionStoreOptions | NormalizedStoreOptions) {
    super();
    this.#options = normalizeStoreOptions(options);
    this.client = clientFor(this.#options.topology);
    this.#ownsClient = this.#options.topology.kind !== "client";
    this.#redis = new SessionCommands(backendFor(this.client), this.#options, {
      // express-session stops using a store between `disconnect` and `connect`; redisSession
      // answers 503 meanwhile. Both are emitted only for outages longer than the wait bound.
      disconnect: () => this.emit("disconnect"),
      connect: () => this.emit("connect"),
      failover: (event: FailoverEvent) => this.emit("failover", event),
    });
    this.#users = new UserSessions(this.client, this.#redis, this.#options);
    liveStores.add(this);
  }

  /**
   * Binds the session to a user: its next save records the user id with it and adds it to the
   * user's index (`<prefix>user:<userId>`), which sessionsOf and logoutEverywhere read.
   * Used by login().
   */
  bindToUser(session: SessionData, userId: string): void {
    this.#snapshots.bind(session, userId);
  }

  /** The user id a session was bound to by login(), if any. */
  userIdOf(session: SessionData): string | undefined {
    return this.#snapshots.userIdOf(session);
  }

  /** The user's live sessions, from the per-user index (not on a Redis Cluster). */
  sessionsOf(userId: string): Promise<UserSession[]> {
    return this.#users.list(userId);
  }

  /** Deletes every session of the user (not on a Redis Cluster); returns how many there were. */
  destroyUserSessions(userId: string): Promise<number> {
    return this.#users.destroyAll(userId);
  }

  /** False during a lasting outage (after `disconnect`, until `connect`). */
  get available(): boolean {
    return this.#redis.monitor.available;
  }

  /** The master the client is connected to (`host:port`) and when it last changed. */
  get connection(): { master: string | undefined; lastFailoverAt: Date | undefined } {
    const { master, lastFailoverAt } = this.#redis.monitor;
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
    settle(this.#read(sid), callback);
  }

  override set(sid: string, session: SessionData, callback?: Callback): void {
    this.#undoMaxAgeDrift(sid, session);
    settle(
      this.#withinRequest(session, "session write", (waitMs) => this.#save(sid, session, waitMs)),
      callback,
    );
  }

  override touch(sid: string, session: SessionData, callback?: Callback): void {
    this.#undoMaxAgeDrift(sid, session);
    if (this.#snapshots.of(session, sid)?.ttlMs === this.#ttlFor(session.cookie)) {
      // This request's read or write already renewed the TTL as far as `touchAfter` asks. Answered
      // at once: express-session then ends the response in one write instead of two.
      callback?.();
      return;
    }
    settle(
      this.#withinRequest(session, "session touch", (waitMs) => this.#renew(sid, session, waitMs)),
      callback,
    );
  }

  override destroy(sid: string, callback?: Callback): void {
    settle(this.#redis.destroy(sid), callback);
  }

  override all(callback: Callback<Record<string, SessionData>>): void {
    settle(this.#readAll(), callback);
  }

  override length(callback: Callback<number>): void {
    settle(
      this.ids().then((ids) => ids.length),
      callback,
    );
  }

  override clear(callback?: Callback): void {
    settle(this.#removeAll(), callback);
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
   * Runs a store operation of `session`'s request with what the request may still wait for
   * Redis (see requestBudget.ts), and counts its time against it.
   */
  async #withinRequest(
    session: SessionData,
    what: string,
    operation: (waitMs: number) => Promise<void>,
  ): Promise<void> {
    const req = requestOf(session);
    const { waitMs } = this.#options;
    const remaining = remainingWait(req, waitMs);
    if (remaining <= 0) {
      this.#redis.counters.unavailable++;
      throw new RedisUnavailableError(
        `the ${what} was not sent: this request already waited ${waitMs - remaining} ms for ` +
          `Redis, its whole bound (option \`unavailable.waitMs\`)`,
      );
    }
    const started = Date.now();
    try {
      await operation(remaining);
    } finally {
      chargeWait(req, Date.now() - started);
    }
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

  /**
   * Reads a session; null when there is none. Its TTL is renewed in the same command when
   * `touchAfter` is 0, else by a second one only once the last renewal is `touchAfter` old.
   */
  async #read(sid: string): Promise<SessionData | null> {
    const key = this.#key(sid);
    const started = Date.now();
    const { ttlMs, defaultTtlMs, touchAfterMs } = this.#options;
    const reply =
      touchAfterMs === 0
        ? await this.#redis.readAndRenew(key, ttlMs ?? 0, defaultTtlMs)
        : await this.#redis.read(key, ttlMs ?? 0, defaultTtlMs);
    let decoded;
    try {
      decoded = decodeSession(reply);
    } catch (error) {
      if (!(error instanceof CorruptSessionError)) throw error;
      this.#reportCorrupt(key, error);
      return null;
    }
    if (decoded === undefined) return null;
    const { data, legacy, uid } = decoded;
    const sessionTtlMs = this.#ttlFor(data.cookie);
    const now = Date.now();
    let { touchedAt } = decoded;
    if (touchAfterMs === 0 || legacy) {
      // The read script renewed the TTL already.
      touchedAt = now;
    } else if (this.#renewalDue(touchedAt, sessionTtlMs, now)) {
      await this.#redis.renew(key, sessionTtlMs);
      touchedAt = now;
    }
    const cookie = data.cookie as unknown as Record<string, unknown>;
    const { originalMaxAge } = cookie;
    // The session lives on, so its cookie now expires a full maxAge from now. A Date, which
    // express-session's Cookie takes as it is (a string it would parse).
    if (typeof originalMaxAge === "number") cookie.expires = new Date(now + originalMaxAge);
    const encoded = legacy ? encodeSession(data) : decoded;
    this.#snapshots.loaded(data, {
      sid,
      encoded,
      legacy,
      uid,
      ttlMs: sessionTtlMs,
      touchedAt,
      readMs: now - started,
    });
    return data;
  }

  /**
   * express-session's `touch()` sets the cookie's `maxAge` from `originalMaxAge`, and that setter
   * works `originalMaxAge` out again from the clock: a millisecond or so short whenever the clock
   * ticks in between. Put back as this request read it, or an unchanged session would look
   * changed, and a read would rewrite it (converting a connect-redis value). A deliberate change
   * of `maxAge` differs by far more.
   */
  #undoMaxAgeDrift(sid: string, session: SessionData): void {
    const cookie = session.cookie as MaxAge | undefined;
    if (cookie === undefined) return;
    const read = this.#snapshots.of(session, sid)?.encoded.cookie as MaxAge | undefined;
    const stored = read?.originalMaxAge;
    const now = cookie.originalMaxAge;
    if (typeof stored !== "number" || typeof now !== "number" || now === stored) return;
    if (Math.abs(now - stored) < MAX_AGE_DRIFT_MS) cookie.originalMaxAge = stored;
  }

  /** Whether the TTL needs renewing: the last renewal is `touchAfter` old, or unknown. */
  #renewalDue(touchedAt: number | undefined, ttlMs: number, now: number): boolean {
    if (touchedAt === undefined || !Number.isFinite(touchedAt)) return true;
    const { touchAfterMs } = this.#options;
    if (touchAfterMs === 0) return true;
    const { touchAfterShare, touchAfterCapMs } = DEFAULTS.store;
    const after = touchAfterMs ?? Math.min(touchAfterCapMs, ttlMs * touchAfterShare);
    return now - touchedAt >= Math.min(after, ttlMs / 2);
  }

  /**
   * Writes the session: for a session this request read, only the fields it changed, and only if
   * the session still exists; otherwise the whole session.
   * @throws SessionTooLargeError over `maxBytes`, writing nothing
   */
  async #save(sid: string, session: SessionData, waitMs: number): Promise<void> {
    const encoded = encodeSession(session);
    const { maxBytes } = this.#options;
    if (mayExceed(encoded, maxBytes)) {
      const bytes = encodedSize(encoded);
      if (bytes > maxBytes) throw new SessionTooLargeError(bytes, maxBytes);
    }
    const ttlMs = this.#ttlFor(session.cookie);
    const current = this.#snapshots.of(session, sid);
    const mode: WriteMode =
      current === undefined ? "replace" : current.legacy ? "convert" : "update";
    const { changed, removed } = diffSessions(
      encoded,
      mode === "update" ? current?.encoded : undefined,
    );
    if (mode === "update" && changed.length + removed.length === 0 && current?.ttlMs === ttlMs) {
      return;
    }
    const key = this.#key(sid);
    const bound = this.#snapshots.binding(session);
    // A delta leaves a TTL renewed less than touchAfter ago alone, as a read would.
    const now = Date.now();
    const renew =
      mode !== "update" ||
      current?.ttlMs !== ttlMs ||
      this.#renewalDue(current.touchedAt, ttlMs, now);
    const written = await this.#redis.write(
      sid,
      mode,
      renew ? ttlMs : undefined,
      { changed, removed, uid: bound },
      waitMs,
    );
    if (!written) {
      log("session %s was destroyed meanwhile; not recreated", fingerprint(key));
    } else {
      this.#snapshots.written(session, {
        sid,
        encoded,
        legacy: false,
        uid: bound ?? current?.uid,
        ttlMs,
        touchedAt: renew ? now : current.touchedAt,
      });
    }
  }

  /**
   * Renews the TTL of a session this request did not read; for one it read whose cookie maxAge
   * changed since, stores the new maxAge too.
   */
  async #renew(sid: string, session: SessionData, waitMs: number): Promise<void> {
    if (this.#snapshots.of(session, sid) === undefined) {
      await this.#redis.renew(this.#key(sid), this.#ttlFor(session.cookie), waitMs);
    } else {
      await this.#save(sid, session, waitMs);
    }
  }

  /** Every session id under the prefix, walked with SCAN. */
  async ids(): Promise<string[]> {
    const ids: string[] = [];
    const { prefix } = this.#options;
    const index = `${prefix}user:`;
    for await (const keys of this.backend.scan(`${escapeGlob(prefix)}*`)) {
      for (const key of keys) if (!key.startsWith(index)) ids.push(key.slice(prefix.length));
    }
    return ids;
  }

  /** Every session, by id, read without renewing any TTL. Corrupt entries are left out. */
  async #readAll(): Promise<Record<string, SessionData>> {
    const sessions: Record<string, SessionData> = {};
    for (const sid of await this.ids()) {
      const key = this.#key(sid);
      const reply = await this.#redis.read(key, -1, 0);
      try {
        const decoded = decodeSession(reply);
        if (decoded !== undefined) sessions[sid] = decoded.data;
      } catch (error) {
        if (!(error instanceof CorruptSessionError)) throw error;
        this.#reportCorrupt(key, error);
      }
    }
    return sessions;
  }

  /** Deletes every session under the prefix. */
  async #removeAll(): Promise<void> {
    const { prefix } = this.#options;
    for await (const keys of this.backend.scan(`${escapeGlob(prefix)}*`)) {
      await this.#redis.delete(...keys);
    }
  }

  /** @internal The topology's backend, for the health check. */
  get backend(): Backend {
    return this.#redis.backend;
  }

  /** Closes the Redis connection if this store created it; a client you passed in stays open. */
  async close(): Promise<void> {
    liveStores.delete(this);
    await this.#redis.close();
    if (this.#ownsClient) await this.client.quit();
  }

  #ttlFor(cookie: Cookie | undefined): number {
    if (this.#options.ttlMs !== undefined) return this.#options.ttlMs;
    const maxAge = cookie?.originalMaxAge;
    return typeof maxAge === "number" && maxAge >= 1
      ? Math.floor(maxAge)
      : this.#options.defaultTtlMs;
  }

  #key(sid: string): string {
    return this.#options.prefix + sid;
  }

  #reportCorrupt(key: string, error: CorruptSessionError): void {
    if (this.#reported.has(key)) return;
    if (this.#reported.size >= REPORTED_LIMIT) this.#reported.clear();
    this.#reported.add(key);
    log("corrupt session data at %s treated as no session: %s", fingerprint(key), error.message);
  }
}
