import { createHash } from "node:crypto";
import { Store } from "express-session";
import type { Cookie, Session, SessionData } from "express-session";
import type { Request } from "express";
import type { Cluster, Redis } from "ioredis";
import { debugFor } from "../debug.js";
import { SessionTooLargeError } from "../errors/SessionTooLargeError.js";
import { normalizeStoreOptions } from "../options.js";
import type { NormalizedStoreOptions, RedisSessionStoreOptions } from "../options.js";
import { clientFor } from "../redis/createRedisClient.js";
import {
  CorruptSessionError,
  decodeSession,
  diffSessions,
  encodeSession,
  encodedSize,
} from "./codec.js";
import type { EncodedSession } from "./codec.js";
import { escapeGlob, scanKeys } from "./scan.js";
import type { FailoverEvent } from "./ConnectionMonitor.js";
import { SessionCommands } from "./SessionCommands.js";
import type { WriteMode } from "./scripts.js";

const log = debugFor("store");

type Callback<T = void> = (error?: unknown, value?: T) => void;

/** What this request last read or wrote for a session: the base of its next delta write. */
interface Snapshot {
  sid: string;
  encoded: EncodedSession;
  legacy: boolean;
  /** TTL already applied in Redis by that read or write. */
  ttlMs: number;
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
  /** Raw fields of data returned by get(), until express-session turns the data into a Session. */
  readonly #decoded = new WeakMap<object, Snapshot>();
  /** Per Session object (so per request): what Redis holds as far as this request knows. */
  readonly #snapshots = new WeakMap<object, Snapshot>();
  readonly #reported = new Set<string>();

  /** @throws TypeError naming a bad option. */
  constructor(options: RedisSessionStoreOptions | NormalizedStoreOptions) {
    super();
    this.#options = normalizeStoreOptions(options);
    this.client = clientFor(this.#options.topology);
    this.#ownsClient = this.#options.topology.kind !== "client";
    this.#redis = new SessionCommands(this.client, this.#options, {
      // express-session stops using a store between `disconnect` and `connect`; redisSession
      // answers 503 meanwhile. Both are emitted only for outages longer than the wait bound.
      disconnect: () => this.emit("disconnect"),
      connect: () => this.emit("connect"),
      failover: (event: FailoverEvent) => this.emit("failover", event),
    });
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

  /** The options in force, after defaults. */
  get settings(): Readonly<NormalizedStoreOptions> {
    return this.#options;
  }

  override get(sid: string, callback: Callback<SessionData | null>): void {
    settle(this.#read(sid), callback);
  }

  override set(sid: string, session: SessionData, callback?: Callback): void {
    settle(this.#save(sid, session), callback);
  }

  override touch(sid: string, session: SessionData, callback?: Callback): void {
    settle(this.#renew(sid, session), callback);
  }

  override destroy(sid: string, callback?: Callback): void {
    settle(this.#redis.delete(this.#key(sid)), callback);
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
    const snapshot = this.#decoded.get(data);
    if (snapshot !== undefined) this.#snapshots.set(session, snapshot);
    return session;
  }

  /**
   * Whether saving `session` would write anything: a field changed, added or removed since this
   * request read it, or, for a new session, anything besides the cookie.
   */
  hasUnsavedChanges(session: SessionData): boolean {
    const encoded = encodeSession(session);
    const snapshot = this.#snapshots.get(session);
    if (snapshot === undefined || snapshot.sid !== sessionId(session)) {
      for (const field of encoded.fields.keys()) if (field !== "cookie") return true;
      return false;
    }
    const { changed, removed } = diffSessions(encoded, snapshot.encoded);
    return changed.length > 0 || removed.length > 0;
  }

  /**
   * Puts the session's data back to what this request last read or wrote, dropping changes that
   * could not be saved. A new session keeps only its cookie.
   */
  revertUnsavedChanges(session: SessionData): void {
    const snapshot = this.#snapshots.get(session);
    const stored = snapshot?.sid === sessionId(session) ? snapshot?.encoded.fields : undefined;
    const data = session as unknown as Record<string, unknown>;
    for (const field of Object.keys(data)) {
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- session keys are dynamic
      if (field !== "cookie" && !stored?.has(field)) delete data[field];
    }
    for (const [field, json] of stored ?? []) {
      if (field !== "cookie") data[field] = JSON.parse(json) as unknown;
    }
  }

  /** Reads a session and renews its TTL in one command; null when there is none. */
  async #read(sid: string): Promise<SessionData | null> {
    const key = this.#key(sid);
    const reply = await this.#redis.read(key, this.#options.ttlMs ?? 0, this.#options.defaultTtlMs);
    let decoded;
    try {
      decoded = decodeSession(reply);
    } catch (error) {
      if (!(error instanceof CorruptSessionError)) throw error;
      this.#reportCorrupt(key, error);
      return null;
    }
    if (decoded === undefined) return null;
    const { data, legacy } = decoded;
    const cookie = data.cookie as unknown as Record<string, unknown>;
    const { originalMaxAge } = cookie;
    // The read renewed the session, so its cookie now expires a full maxAge from now.
    if (typeof originalMaxAge === "number") {
      cookie.expires = new Date(Date.now() + originalMaxAge).toISOString();
    }
    const encoded = legacy ? encodeSession(data) : decoded;
    this.#decoded.set(data, { sid, encoded, legacy, ttlMs: this.#ttlFor(data.cookie) });
    return data;
  }

  /**
   * Writes the session: for a session this request read, only the fields it changed, and only if
   * the session still exists; otherwise the whole session.
   * @throws SessionTooLargeError over `maxBytes`, writing nothing
   */
  async #save(sid: string, session: SessionData): Promise<void> {
    const encoded = encodeSession(session);
    const bytes = encodedSize(encoded);
    if (bytes > this.#options.maxBytes)
      throw new SessionTooLargeError(bytes, this.#options.maxBytes);
    const ttlMs = this.#ttlFor(session.cookie);
    const base = this.#snapshots.get(session);
    const current = base?.sid === sid ? base : undefined;
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
    const written = await this.#redis.write(key, mode, ttlMs, changed, removed);
    if (!written) {
      log("session %s was destroyed meanwhile; not recreated", fingerprint(key));
    } else if ("req" in session) {
      this.#snapshots.set(session, { sid, encoded, legacy: false, ttlMs });
    }
  }

  /**
   * Renews the TTL. After this request read or wrote the session that already happened, so it
   * costs nothing — unless the cookie's maxAge changed since, which is then stored too.
   */
  async #renew(sid: string, session: SessionData): Promise<void> {
    const snapshot = this.#snapshots.get(session);
    const ttlMs = this.#ttlFor(session.cookie);
    if (snapshot?.sid !== sid) {
      await this.#redis.expire(this.#key(sid), ttlMs);
    } else if (snapshot.ttlMs !== ttlMs) {
      await this.#save(sid, session);
    }
  }

  /** Every session id under the prefix, walked with SCAN. */
  async ids(): Promise<string[]> {
    const ids: string[] = [];
    const { prefix } = this.#options;
    for await (const keys of scanKeys(this.client, `${escapeGlob(prefix)}*`)) {
      for (const key of keys) ids.push(key.slice(prefix.length));
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
    for await (const keys of scanKeys(this.client, `${escapeGlob(prefix)}*`)) {
      await this.#redis.delete(...keys);
    }
  }

  /** Closes the Redis connection if this store created it; a client you passed in stays open. */
  async close(): Promise<void> {
    this.#redis.stop();
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

/** Hands a promise's outcome to an express-session callback, outside the promise chain. */
function settle<T>(promise: Promise<T>, callback: Callback<T> | undefined): void {
  promise.then(
    (value) => {
      if (callback) process.nextTick(callback, null, value);
    },
    (error: unknown) => {
      if (callback) process.nextTick(callback, error);
      else log("store operation failed without a callback: %O", error);
    },
  );
}

function sessionId(session: SessionData): unknown {
  return (session as { id?: unknown }).id;
}

/** A short hash standing for a key in logs: never the session id itself. */
function fingerprint(key: string): string {
  return `#${createHash("sha256").update(key).digest("hex").slice(0, 12)}`;
}
