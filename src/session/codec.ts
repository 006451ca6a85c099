import type { SessionData } from "express-session";
import type { ReadReply } from "./scripts.js";
import { CorruptSessionError } from "../errors/internal/CorruptSessionError.js";

/**
 * A session as Redis holds it: field → JSON. `cookie` is the cookie as stored, compared without
 * `expires`, which moves on every request and is recomputed on read, so it alone is no change.
 */
export interface EncodedSession {
  fields: Map<string, string>;
  cookie: unknown;
}

/** What a read found: the session data and its encoding, to diff against when it is saved. */
export interface DecodedSession extends EncodedSession {
  data: SessionData;
  /** Stored as one JSON string (connect-redis); the next write converts it to a hash. */
  legacy: boolean;
  /** The user the session is bound to (`$uid`), if any. */
  uid: string | undefined;
  /** When its TTL was last set (`$touched`, ms), if recorded. */
  touchedAt: number | undefined;
}

/**
 * Fields the store keeps for itself (`$uid`, `$created`, `$touched`, `$pack`); no session key may
 * start with it.
 */
export const META_PREFIX = "$";

/**
 * Turns the read script's reply into session data.
 * @returns undefined when there is no session
 * @throws CorruptSessionError when the key holds something that is not a session
 */
export function decodeSession(
  reply: ReadReply,
  cookieDefaults: CookieDefaults = EXPRESS_COOKIE_DEFAULTS,
): DecodedSession | undefined {
  if (reply === null) return undefined;
  const [kind, payload] = reply;
  if (kind === "other") throw new CorruptSessionError(`key holds a Redis ${payload}, not a hash`);
  if (kind === "string") {
    const data = parseJson(payload, "value");
    if (!isRecord(data)) throw new CorruptSessionError("value is not a JSON object");
    return {
      data: checkCookie(data),
      fields: new Map(),
      cookie: undefined,
      legacy: true,
      uid: undefined,
      touchedAt: undefined,
    };
  }
  const fields = new Map<string, string>();
  const data: Record<string, unknown> = {};
  let uid: string | undefined;
  let touchedAt: number | undefined;
  for (let i = 0; i + 1 < payload.length; i += 2) {
    const field = payload[i] ?? "";
    const value = payload[i + 1] ?? "";
    if (!field.startsWith(META_PREFIX)) takeField(fields, data, field, value, cookieDefaults);
    else if (field === "$uid") uid = value;
    else if (field === "$touched") touchedAt = Number(value);
    else if (field === "$pack") {
      unpack(value, (packed, json) => takeField(fields, data, packed, json, cookieDefaults));
    }
  }
  const session = checkCookie(data);
  return {
    data: session,
    fields,
    cookie: session.cookie,
    legacy: false,
    uid,
    touchedAt,
  };
}

/** One stored field of a session into its encoding (`fields`) and its data. */
function takeField(
  fields: Map<string, string>,
  data: Record<string, unknown>,
  field: string,
  value: string,
  cookieDefaults: CookieDefaults,
): void {
  fields.set(field, value);
  const parsed = parseJson(value, `field ${JSON.stringify(field)}`);
  if (field === "cookie" && isRecord(parsed)) withCookieDefaults(parsed, cookieDefaults);
  // A field named "__proto__" stays a plain key, not the object's prototype. (Defined only then:
  // an object without a prototype would be slower to read on every request.)
  if (field === "__proto__") {
    Object.defineProperty(data, field, { value: parsed, enumerable: true, writable: true });
  } else {
    data[field] = parsed;
  }
}

/**
 * Each enumerable top-level key of the session as JSON, as `JSON.stringify(session)` would
 * write it (so `cookie` goes through Cookie#toJSON and undefined values are left out).
 */
export function encodeSession(
  session: object,
  cookieDefaults: CookieDefaults = EXPRESS_COOKIE_DEFAULTS,
): EncodedSession {
  const fields = new Map<string, string>();
  let cookie: unknown;
  const data = session as Record<string, unknown>;
  for (const field in data) {
    if (!Object.hasOwn(data, field)) continue;
    const value = data[field];
    if (field.startsWith(META_PREFIX)) {
      throw new TypeError(
        `session key "${field}" starts with "${META_PREFIX}", which the store reserves for its own fields`,
      );
    }
    const json =
      field === "cookie" && isRecord(value)
        ? storedCookie(value, cookieDefaults)
        : (JSON.stringify(value) as string | undefined);
    if (json === undefined) continue;
    fields.set(field, json);
    // A copy: the live Cookie may still change after this encoding.
    if (field === "cookie") cookie = cookieSettings(value);
  }
  return { fields, cookie };
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
        ? sameCookieSettings(previous.cookie, next.cookie)
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

/**
 * Whether the session may be over `maxBytes`. A UTF-16 code unit takes at most 3 bytes in UTF-8,
 * so most sessions are cleared without measuring each field's bytes.
 */
export function mayExceed({ fields }: EncodedSession, maxBytes: number): boolean {
  let units = 0;
  for (const [field, value] of fields) units += field.length + value.length;
  return units * 3 > maxBytes;
}

/** The settings of a cookie that a session stores, besides `expires`. */
const COOKIE_SETTINGS = [
  "originalMaxAge",
  "secure",
  "httpOnly",
  "domain",
  "path",
  "sameSite",
  "priority",
  "partitioned",
] as const;

/**
 * A cookie as the session hash stores it: its settings without `expires` (recomputed from
 * `originalMaxAge` on every read) and without what equals the defaults (express-session's, or
 * those of the redisSession middleware that made the store: see CookieDefaults). That keeps the
 * field under Redis' `hash-max-listpack-value` (64 bytes), so a small session stays a compact
 * listpack instead of a hashtable: `{"originalMaxAge":86400000}` under redisSession's defaults,
 * 110–130 bytes with all of it. A setting the defaults have but the cookie lacks is stored as
 * null, so it is not read back as the default.
 */
function storedCookie(cookie: Record<string, unknown>, defaults: CookieDefaults): string {
  const toJSON = cookie.toJSON;
  const source = (typeof toJSON === "function" ? toJSON.call(cookie) : cookie) as Record<
    string,
    unknown
  >;
  const stored: Record<string, unknown> = {};
  for (const name in source) {
    const value = source[name];
    if (name === "expires" || value === undefined) continue;
    if (Object.hasOwn(defaults, name) && defaults[name] === value) continue;
    stored[name] = value;
  }
  for (const name in defaults) {
    if (source[name] === undefined || source[name] === null) stored[name] = null;
  }
  return JSON.stringify(stored);
}

/**
 * Cookie settings a stored cookie leaves out because they are the defaults, filled back in on
 * reading: express-session's (`path` "/", `httpOnly` true, not `secure`), and with redisSession
 * also the fixed settings of its `cookie` option (`sameSite` "lax" by default).
 */
export type CookieDefaults = Readonly<Record<string, unknown>>;

export const EXPRESS_COOKIE_DEFAULTS: CookieDefaults = { path: "/", httpOnly: true, secure: false };

/**
 * A stored cookie with the defaults it left out; one stored in full is read as it is, and a
 * setting stored as null (the cookie lacked it) is read as unset.
 */
function withCookieDefaults(cookie: Record<string, unknown>, defaults: CookieDefaults): void {
  for (const name in defaults) {
    if (!Object.hasOwn(cookie, name)) cookie[name] = defaults[name];
    else if (cookie[name] === null) cookie[name] = undefined;
  }
}

/** A cookie's settings besides `expires`, copied. */
function cookieSettings(cookie: unknown): Record<string, unknown> | undefined {
  if (!isRecord(cookie)) return undefined;
  const settings: Record<string, unknown> = {};
  for (const name of COOKIE_SETTINGS) settings[name] = cookie[name];
  return settings;
}

/**
 * Whether two cookies have the same settings besides `expires`. Read property by property, the
 * same way for a stored cookie (plain JSON) and express-session's Cookie: this runs on every
 * request.
 */
export function sameCookieSettings(a: unknown, b: unknown): boolean {
  if (!isRecord(a) || !isRecord(b)) return a === b;
  for (const name of COOKIE_SETTINGS) if ((a[name] ?? null) !== (b[name] ?? null)) return false;
  return true;
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

/**
 * The fields of a `$pack` (`field\nvalue\n…`, see the write script), each handed to `take`.
 * @throws CorruptSessionError when it is cut short
 */
export function unpack(packed: string, take: (field: string, value: string) => void): void {
  let at = 0;
  while (at < packed.length) {
    const nameEnd = packed.indexOf("\n", at);
    const valueEnd = nameEnd < 0 ? -1 : packed.indexOf("\n", nameEnd + 1);
    if (valueEnd < 0) throw new CorruptSessionError("field $pack is cut short");
    take(packed.slice(at, nameEnd), packed.slice(nameEnd + 1, valueEnd));
    at = valueEnd + 1;
  }
}
