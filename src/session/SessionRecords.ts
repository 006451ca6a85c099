import type { SessionData } from "express-session";
import { SessionTooLargeError } from "../errors/SessionTooLargeError.js";
import { debugFor, fingerprint } from "../redis/debug.js";
import type { BoundStep, Budget } from "../redis/Keyspace.js";
import { decodeSession, diffSessions, encodeSession, encodedSize, mayExceed } from "./codec.js";
import type { NormalizedStoreOptions } from "./options.js";
import type { RequestSnapshots, Snapshot } from "./RequestSnapshots.js";
import type { WriteMode } from "./scripts.js";
import type { SessionCommands } from "./SessionCommands.js";
import type { TtlPolicy } from "./ttl.js";
import { CorruptSessionError } from "../errors/internal/CorruptSessionError.js";

const log = debugFor("store");

/** How far express-session's touch() can move `originalMaxAge` (see undoMaxAgeDrift). */
const MAX_AGE_DRIFT_MS = 1_000;

interface MaxAge {
  originalMaxAge?: unknown;
}

/**
 * Sessions as records in Redis: reading one (renewing its TTL when due), saving what a request
 * changed, renewing, listing and removing them all. The store's express-session contract is
 * built on these.
 */
export class SessionRecords {
  readonly #commands: SessionCommands;
  readonly #ttl: TtlPolicy;

  constructor(
    commands: SessionCommands,
    private readonly options: NormalizedStoreOptions,
    private readonly snapshots: RequestSnapshots,
  ) {
    this.#commands = commands;
    this.#ttl = options.ttl;
  }

  /**
   * Reads a session; null when there is none. Its TTL is renewed in the same command when
   * `touchAfter` is 0, else by a second one only once the last renewal is `touchAfter` old.
   */
  async read(sid: string, token = 0): Promise<SessionData | null> {
    const started = Date.now();
    // The read and its renewal together within the wait bound.
    const budget = this.#commands.keyspace.budget();
    const { ttlMs, defaultTtlMs, touchAfterMs } = this.options;
    // A TTL of the app's function is worked out here, from the decoded session, not in the read.
    const computed = this.#ttl.computed;
    const { reply, vouched } =
      touchAfterMs === 0 && !computed
        ? await this.#commands.readAndRenew(sid, ttlMs ?? 0, defaultTtlMs, budget)
        : await this.#commands.read(sid, ttlMs ?? 0, defaultTtlMs, token, budget);
    let decoded;
    try {
      decoded = decodeSession(reply, this.options.cookieDefaults);
    } catch (error) {
      if (!(error instanceof CorruptSessionError)) throw error;
      this.#commands.keyspace.reportCorrupt(this.#key(sid), error.message);
      return null;
    }
    if (decoded === undefined) return null;
    const { data, legacy, uid } = decoded;
    const sessionTtlMs = this.#ttl.ttlFor(data);
    const now = Date.now();
    let { touchedAt } = decoded;
    if ((touchAfterMs === 0 || legacy) && !computed) {
      // The read script renewed the TTL already.
      touchedAt = now;
    } else if (this.#ttl.renewalDue(touchedAt, sessionTtlMs, now)) {
      // Within what the read left of the wait bound.
      await this.#commands.renew(sid, sessionTtlMs, budget);
      touchedAt = now;
    }
    const cookie = data.cookie as unknown as Record<string, unknown>;
    const { originalMaxAge } = cookie;
    // The session lives on, so its cookie now expires a full maxAge from now. A Date, which
    // express-session's Cookie takes as it is (a string it would parse).
    if (typeof originalMaxAge === "number") cookie.expires = new Date(now + originalMaxAge);
    const encoded = legacy ? encodeSession(data, this.options.cookieDefaults) : decoded;
    this.snapshots.loaded(data, {
      sid,
      encoded,
      legacy,
      uid,
      ttlMs: sessionTtlMs,
      touchedAt,
      readMs: now - started,
      vouched,
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
  undoMaxAgeDrift(sid: string, session: SessionData): void {
    const cookie = session.cookie as MaxAge | undefined;
    if (cookie === undefined) return;
    const read = this.snapshots.of(session, sid)?.encoded.cookie as MaxAge | undefined;
    const stored = read?.originalMaxAge;
    const now = cookie.originalMaxAge;
    if (typeof stored !== "number" || typeof now !== "number" || now === stored) return;
    if (Math.abs(now - stored) < MAX_AGE_DRIFT_MS) cookie.originalMaxAge = stored;
  }

  /**
   * Writes the session: for a session this request read, only the fields it changed, and only if
   * the session still exists; otherwise the whole session.
   * @returns the write's causal token, with replica reads
   * @throws SessionTooLargeError over `maxBytes`, writing nothing
   */
  async save(sid: string, session: SessionData, budget: Budget): Promise<number | undefined> {
    const encoded = encodeSession(session, this.options.cookieDefaults);
    const { maxBytes } = this.options;
    if (mayExceed(encoded, maxBytes)) {
      const bytes = encodedSize(encoded);
      if (bytes > maxBytes) throw new SessionTooLargeError(bytes, maxBytes);
    }
    const ttlMs = this.#ttl.ttlFor(session);
    const current = this.snapshots.of(session, sid);
    const mode: WriteMode =
      current === undefined ? "replace" : current.legacy ? "convert" : "update";
    const { changed, removed } = diffSessions(
      encoded,
      mode === "update" ? current?.encoded : undefined,
    );
    if (mode === "update" && changed.length + removed.length === 0 && current?.ttlMs === ttlMs) {
      return undefined;
    }
    const bound = this.snapshots.binding(session);
    // A delta leaves a TTL renewed less than touchAfter ago alone, as a read would.
    const now = Date.now();
    const renew =
      mode !== "update" ||
      current?.ttlMs !== ttlMs ||
      this.#ttl.renewalDue(current.touchedAt, ttlMs, now);
    const { written, offset } = await this.#commands.write(
      sid,
      mode,
      renew ? ttlMs : undefined,
      {
        changed,
        removed,
        checks:
          mode === "update" && current?.vouched === false
            ? checksFor(current, changed, removed)
            : [],
        uid: bound,
      },
      budget,
    );
    if (!written) {
      log("session %s was destroyed meanwhile; not recreated", fingerprint(this.#key(sid)));
    } else {
      this.snapshots.written(session, {
        sid,
        encoded,
        legacy: false,
        uid: bound ?? current?.uid,
        ttlMs,
        touchedAt: renew ? now : current.touchedAt,
        // The fields this write did not change are still as read.
        vouched: mode !== "update" || current?.vouched !== false,
      });
    }
    return offset;
  }

  /**
   * Renews the TTL of a session this request did not read; for one it read whose cookie maxAge
   * changed since, stores the new maxAge too.
   */
  async renew(sid: string, session: SessionData, budget: Budget): Promise<void> {
    if (this.snapshots.of(session, sid) === undefined) {
      await this.#commands.renew(sid, this.#ttl.ttlFor(session), budget);
    } else {
      await this.save(sid, session, budget);
    }
  }

  /** Whether this request's read or write already renewed the TTL as far as `touchAfter` asks. */
  renewedByThisRequest(sid: string, session: SessionData): boolean {
    return this.snapshots.of(session, sid)?.ttlMs === this.#ttl.ttlFor(session);
  }

  /** Every session id under the prefix, walked with SCAN, each step within the wait bound. */
  async ids(): Promise<string[]> {
    const ids: string[] = [];
    const { keys } = this.#commands;
    for await (const batch of this.#commands.keyspace.scan(keys.pattern, this.#step)) {
      for (const key of batch) {
        const sid = keys.sidOf(key);
        if (sid !== undefined) ids.push(sid);
      }
    }
    return ids;
  }

  /** Every session, by id, read without renewing any TTL. Corrupt entries are left out. */
  async readAll(): Promise<Record<string, SessionData>> {
    const sessions: Record<string, SessionData> = {};
    for (const sid of await this.ids()) {
      const { reply } = await this.#commands.read(sid, -1, 0);
      try {
        const decoded = decodeSession(reply, this.options.cookieDefaults);
        if (decoded !== undefined) sessions[sid] = decoded.data;
      } catch (error) {
        if (!(error instanceof CorruptSessionError)) throw error;
        this.#commands.keyspace.reportCorrupt(this.#key(sid), error.message);
      }
    }
    return sessions;
  }

  /** Deletes every session under the prefix; each step within the wait bound. */
  async removeAll(): Promise<void> {
    const { keys } = this.#commands;
    for await (const batch of this.#commands.keyspace.scan(keys.pattern, this.#step)) {
      // The users' hash-tag key stays: instances hold it, and a new one would move every user's
      // index to another slot.
      const doomed = batch.filter((key) => key !== keys.userTagKey);
      if (doomed.length > 0) await this.#commands.delete(...doomed);
    }
  }

  /** One step of a walk over every session, within `unavailable.waitMs`. */
  readonly #step: BoundStep = (what, attempt) => this.#commands.keyspace.bounded(what, attempt);

  #key(sid: string): string {
    return this.#commands.keys.session(sid);
  }
}

/**
 * For a write whose base was read from a master no Sentinel majority named: each field it sets or
 * deletes with the value it read ("" for none), for the write script to check.
 */
function checksFor(read: Snapshot, changed: string[], removed: string[]): string[] {
  const checks: string[] = [];
  const { fields } = read.encoded;
  for (let i = 0; i < changed.length; i += 2) {
    const field = changed[i] ?? "";
    checks.push(field, fields.get(field) ?? "");
  }
  for (const field of removed) checks.push(field, fields.get(field) ?? "");
  return checks;
}
