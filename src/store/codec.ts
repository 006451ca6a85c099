import type { SessionData } from "express-session";
import type { ReadReply } from "./scripts.js";

/**
 * A session as Redis holds it: field → JSON. `cookieKey` is the cookie without `expires`, which
 * moves on every request and is recomputed from the TTL on read, so it alone is no change.
 */
export interface EncodedSession {
  fields: Map<string, string>;
  cookieKey: string;
}

/** What a read found: the session data and its encoding, to diff against when it is saved. */
export interface DecodedSession extends EncodedSession {
  data: SessionData;
  /** Stored as one JSON string (connect-redis); the next write converts it to a hash. */
  legacy: boolean;
  /** The user the session is bound to (`$uid`), if any. */
  uid: string | undefined;
}

/** Fields the store keeps for itself (`$uid`, `$created`); no session key may start with it. */
export const META_PREFIX = "$";

/** Why a stored value is not a session. */
export class CorruptSessionError extends Error {
  override readonly name = "CorruptSessionError";
}

/**
 * Turns the read script's reply into session data.
 * @returns undefined when there is no session
 * @throws CorruptSessionError when the key holds something that is not a session
 */
export function decodeSession(reply: ReadReply): DecodedSession | undefined {
  if (reply === null) return undefined;
  const [kind, payload] = reply;
  if (kind === "other") throw new CorruptSessionError(`key holds a Redis ${payload}, not a hash`);
  if (kind === "string") {
    const data = parseJson(payload, "value");
    if (!isRecord(data)) throw new CorruptSessionError("value is not a JSON object");
    return {
      data: checkCookie(data),
      fields: new Map(),
      cookieKey: "",
      legacy: true,
      uid: undefined,
    };
  }
  const fields = new Map<string, string>();
  // No prototype: a stored field named "__proto__" stays a plain key.
  const data = Object.create(null) as Record<string, unknown>;
  let uid: string | undefined;
  for (let i = 0; i + 1 < payload.length; i += 2) {
    const field = payload[i] ?? "";
    const value = payload[i + 1] ?? "";
    if (field === "$uid") uid = value;
    if (field.startsWith(META_PREFIX)) continue;
    fields.set(field, value);
    data[field] = parseJson(value, `field ${JSON.stringify(field)}`);
  }
  const session = checkCookie(data);
  return { data: session, fields, cookieKey: cookieKeyOf(session.cookie), legacy: false, uid };
}

/**
 * Each enumerable top-level key of the session as JSON, as `JSON.stringify(session)` would
 * write it (so `cookie` goes through Cookie#toJSON and undefined values are left out).
 */
export function encodeSession(session: object): EncodedSession {
  const fields = new Map<string, string>();
  let cookieKey = "";
  for (const [field, value] of Object.entries(session)) {
    if (field.startsWith(META_PREFIX)) {
      throw new TypeError(
        `session key "${field}" starts with "${META_PREFIX}", which the store reserves for its own fields`,
      );
    }
    const json = JSON.stringify(value) as string | undefined;
    if (json === undefined) continue;
    fields.set(field, json);
    if (field === "cookie") cookieKey = cookieKeyOf(value);
  }
  return { fields, cookieKey };
}

/**
 * The fields of `next` that differ from `previous` (as field, value pairs) and the fields it no
 * longer has. Without `previous`, every field.
 */
export function diffSessions(
  next: EncodedSession,
  previous: EncodedSession | undefined,
): { changed: string[]; removed: string[] } {
  const changed: string[] = [];
  for (const [field, value] of next.fields) {
    const same =
      previous !== undefined &&
      previous.fields.has(field) &&
      (field === "cookie"
        ? previous.cookieKey === next.cookieKey
        : previous.fields.get(field) === value);
    if (!same) changed.push(field, value);
  }
  const removed: string[] = [];
  for (const field of previous?.fields.keys() ?? []) {
    if (!next.fields.has(field)) removed.push(field);
  }
  return { changed, removed };
}

/** Bytes the session takes in Redis: field names plus values. */
export function encodedSize({ fields }: EncodedSession): number {
  let bytes = 0;
  for (const [field, value] of fields) {
    bytes += Buffer.byteLength(field) + Buffer.byteLength(value);
  }
  return bytes;
}

function cookieKeyOf(cookie: unknown): string {
  const data = (cookie as { toJSON?: () => unknown }).toJSON?.() ?? cookie;
  if (!isRecord(data)) return "";
  const { expires: _expires, ...rest } = data;
  return JSON.stringify(rest);
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new CorruptSessionError(`${what} is not valid JSON`);
  }
}

/** express-session dereferences `cookie` on load: a session without one would crash it. */
function checkCookie(data: Record<string, unknown>): SessionData {
  if (!isRecord(data.cookie)) throw new CorruptSessionError("session has no cookie object");
  return data as unknown as SessionData;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
