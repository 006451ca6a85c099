import type { SessionData } from "express-session";
import { diffSessions, encodeSession } from "./codec.js";
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
}

/**
 * What each request knows of Redis, per Session object (so per request, and gone with it):
 * the snapshot its delta writes diff against, and the user login() bound it to.
 */
export class RequestSnapshots {
  /** Snapshots of data returned by get(), until express-session turns the data into a Session. */
  readonly #loaded = new WeakMap<object, Snapshot>();
  readonly #snapshots = new WeakMap<object, Snapshot>();
  readonly #bindings = new WeakMap<object, string>();

  /** Keeps the snapshot of data just read, for when express-session makes a Session of it. */
  loaded(data: SessionData, snapshot: Snapshot): void {
    this.#loaded.set(data, snapshot);
  }

  /** The Session made of read `data` inherits its snapshot. */
  adopt(data: SessionData, session: object): void {
    const snapshot = this.#loaded.get(data);
    if (snapshot !== undefined) this.#snapshots.set(session, snapshot);
  }

  /** The snapshot of this session object if it is of session `sid`. */
  of(session: object, sid: unknown = sessionId(session)): Snapshot | undefined {
    const snapshot = this.#snapshots.get(session);
    return snapshot?.sid === sid ? snapshot : undefined;
  }

  /** After a write: what Redis now holds. Only for sessions of a request (with `req`). */
  written(session: object, snapshot: Snapshot): void {
    if ("req" in session) this.#snapshots.set(session, snapshot);
  }

  bind(session: object, userId: string): void {
    this.#bindings.set(session, userId);
  }

  /** The user login() bound the session to in this request, not yet written. */
  binding(session: object): string | undefined {
    return this.#bindings.get(session);
  }

  userIdOf(session: object): string | undefined {
    return this.#bindings.get(session) ?? this.of(session)?.uid;
  }

  /**
   * Whether saving `session` would write anything: a field changed, added or removed since this
   * request read it, or, for a new session, anything besides the cookie.
   */
  hasUnsavedChanges(session: SessionData): boolean {
    const encoded = encodeSession(session);
    const snapshot = this.of(session);
    if (snapshot === undefined) {
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
