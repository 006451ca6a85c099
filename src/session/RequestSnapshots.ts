import type { SessionData } from "express-session";
import { sameCookieSettings } from "./codec.js";
import type { EncodedSession } from "./codec.js";

/** What a request last read or wrote for a session: the base of its next delta write. */
export interface Snapshot {
  sid: string;
  encoded: EncodedSession;
  /** Stored as a connect-redis string; the next write converts it. */
  legacy: boolean;
  /** The user the stored session is bound to. */
  uid: string | undefined;
  /** TTL already applied in Redis by that read or write. */
  ttlMs: number;
  /** When that TTL was set (ms), as far as this request knows; undefined if unknown. */
  touchedAt: number | undefined;
  /** How long the read that made this snapshot waited for Redis (ms). */
  readMs?: number;
  /**
   * The values came from the master a Sentinel majority named (or from this request's own
   * write). When not, a write checks that the fields it changes still hold them.
   */
  vouched: boolean;
}

/**
 * What each request knows of Redis, per Session object (so per request, and gone with it):
 * the snapshot its delta writes diff against, and the user login() bound it to.
 *
 * Both ride on the objects themselves, under symbols of this store, not enumerable, so no
 * serialisation sees them. (WeakMaps would do the same job, but every entry costs the garbage
 * collector work on each request.)
 */
export class RequestSnapshots {
  /** On data returned by get(), until express-session turns it into a Session; then on that. */
  readonly #snapshot = Symbol("redis-ha-session.snapshot");
  readonly #binding = Symbol("redis-ha-session.binding");

  /** Keeps the snapshot of data just read, for when express-session makes a Session of it. */
  loaded(data: SessionData, snapshot: Snapshot): void {
    attach(data, this.#snapshot, snapshot);
  }

  /** The Session made of read `data` inherits its snapshot. */
  adopt(data: SessionData, session: object): void {
    const snapshot = (data as unknown as Tagged)[this.#snapshot] as Snapshot | undefined;
    if (snapshot !== undefined) attach(session, this.#snapshot, snapshot);
  }

  /** The snapshot of this session object if it is of session `sid`. */
  of(session: object, sid: unknown = sessionId(session)): Snapshot | undefined {
    const snapshot = (session as Tagged)[this.#snapshot] as Snapshot | undefined;
    return snapshot?.sid === sid ? snapshot : undefined;
  }

  /** After a write: what Redis now holds. Only for sessions of a request (with `req`). */
  written(session: object, snapshot: Snapshot): void {
    if ("req" in session) attach(session, this.#snapshot, snapshot);
  }

  bind(session: object, userId: string): void {
    attach(session, this.#binding, userId);
  }

  /** The user login() bound the session to in this request, not yet written. */
  binding(session: object): string | undefined {
    return (session as Tagged)[this.#binding] as string | undefined;
  }

  userIdOf(session: object): string | undefined {
    return this.binding(session) ?? this.of(session)?.uid;
  }

  /**
   * Whether saving `session` would write anything: a field changed, added or removed since this
   * request read it, or, for a new session, anything besides the cookie. Runs on every response,
   * so it compares field by field and stops at the first difference.
   */
  hasUnsavedChanges(session: SessionData): boolean {
    const snapshot = this.of(session);
    const data = session as unknown as Record<string, unknown>;
    const stored = snapshot?.encoded.fields;
    let fields = 0;
    for (const field in data) {
      if (!Object.hasOwn(data, field)) continue;
      const value = data[field];
      if (field === "cookie") {
        if (snapshot !== undefined && !sameCookieSettings(value, snapshot.encoded.cookie)) {
          return true;
        }
        continue;
      }
      const json = JSON.stringify(value) as string | undefined;
      if (json === undefined) continue;
      if (stored?.get(field) !== json) return true;
      fields++;
    }
    // Same fields as stored, unless one was deleted.
    return stored !== undefined && fields !== stored.size - (stored.has("cookie") ? 1 : 0);
  }

  /**
   * Puts the session's data back to what this request last read or wrote, dropping changes that
   * could not be saved. A new session keeps only its cookie.
   */
  revert(session: SessionData): void {
    const stored = this.of(session)?.encoded.fields;
    const data = session as unknown as Record<string, unknown>;
    for (const field of Object.keys(data)) {
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- session keys are dynamic
      if (field !== "cookie" && !stored?.has(field)) delete data[field];
    }
    for (const [field, json] of stored ?? []) {
      if (field !== "cookie") data[field] = JSON.parse(json) as unknown;
    }
  }
}

function sessionId(session: object): unknown {
  return (session as { id?: unknown }).id;
}

type Tagged = Record<symbol, unknown>;

/** Sets a property that JSON, for…in and Object.keys/assign do not see. */
function attach(target: object, key: symbol, value: unknown): void {
  if (Object.hasOwn(target, key)) (target as Tagged)[key] = value;
  else Object.defineProperty(target, key, { value, writable: true, configurable: true });
}
