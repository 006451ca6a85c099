import { EXPRESS_COOKIE_DEFAULTS } from "../codec.js";
import type { CookieDefaults } from "../codec.js";
import { randomBytes } from "node:crypto";
import type { CookieOptions, SessionOptions } from "express-session";
import { pickStoreOptions, rejectConnectRedisOptions, STORE_KEYS } from "../options.js";
import type { NormalizedStoreOptions, RedisSessionStoreOptions } from "../options.js";
import {
  asRecord,
  boolean,
  describe,
  nonEmptyString,
  positiveInteger,
  rejectUnknown,
} from "../../redis/options/validate.js";

/**
 * Options of {@link redisSession}: everything express-session takes except `store`, plus the
 * store's options. `secret` is required.
 */
export interface RedisSessionOptions
  extends Omit<SessionOptions, "store" | "secret">, RedisSessionStoreOptions {
  /**
   * Signs the session cookie; at least 32 characters. An array rotates secrets: the first signs,
   * all are accepted.
   */
  secret: string | string[];
  // express-session's own, documented here with this library's defaults (SESSION_DEFAULTS), which
  // differ from express-session's.
  /** The session cookie's name. Default `"sid"` (express-session's is `"connect.sid"`). */
  name?: string | undefined;
  /**
   * Whether a session the request did not change is saved back anyway. Default `false`: a save
   * writes only the fields that changed, and an unchanged session is not written at all.
   */
  resave?: boolean | undefined;
  /**
   * Whether a new session the request put nothing in is saved (and its cookie sent). Default
   * `false`: no Redis key and no cookie for visitors until something is stored in their session.
   */
  saveUninitialized?: boolean | undefined;
  /**
   * Whether every response sets the cookie again, so its expiry slides with the user's activity.
   * Default `true` (express-session's is `false`); the Redis TTL is renewed at most once per
   * `touchAfter`.
   */
  rolling?: boolean | undefined;
  /**
   * The session cookie's settings. Default `{ httpOnly: true, sameSite: "lax", secure: "auto",
   * path: "/" }` and no `maxAge` (a cookie that ends with the browser session; the session itself
   * lives a day in Redis, renewed while used).
   */
  cookie?: CookieOptions | undefined;
  /** Makes the id of a new session. Default: 24 random bytes (192 bits), base64url. */
  genid?: SessionOptions["genid"];
}

/** express-session's options as redisSession sets them unless told otherwise. */
export const SESSION_DEFAULTS = {
  name: "sid",
  resave: false,
  saveUninitialized: false,
  rolling: true,
  /** 24 random bytes: a 192-bit session id. */
  idBytes: 24,
  minSecretLength: 32,
  cookie: { httpOnly: true, sameSite: "lax", secure: "auto", path: "/" },
} as const;

const SESSION_KEYS = [
  "cookie",
  "genid",
  "name",
  "proxy",
  "resave",
  "rolling",
  "saveUninitialized",
  "secret",
  "unset",
] as const;

const COOKIE_KEYS = [
  "domain",
  "encode",
  "expires",
  "httpOnly",
  "maxAge",
  "partitioned",
  "path",
  "priority",
  "sameSite",
  "secure",
  "signed",
] as const;

export function randomSessionId(): string {
  return randomBytes(SESSION_DEFAULTS.idBytes).toString("base64url");
}

export function normalizeSecret(secret: unknown): string | string[] {
  const { minSecretLength } = SESSION_DEFAULTS;
  const advice = "generate one with `openssl rand -base64 48`";
  if (secret === undefined) {
    throw new TypeError(`\`secret\` is required to sign session cookies; ${advice}`);
  }
  const secrets = Array.isArray(secret) ? (secret as unknown[]) : [secret];
  if (secrets.length === 0) {
    throw new TypeError(`\`secret\` must not be an empty array; ${advice}`);
  }
  secrets.forEach((entry, index) => {
    const where = Array.isArray(secret) ? `secret[${index}]` : "secret";
    if (typeof entry !== "string") {
      // Never echo a secret: describe only its type.
      throw new TypeError(`\`${where}\` must be a string; got ${typeof entry}`);
    }
    if (entry.length < minSecretLength) {
      throw new TypeError(
        `\`${where}\` is ${entry.length} characters; use at least ${minSecretLength}: ${advice}`,
      );
    }
  });
  return secret as string | string[];
}

export function normalizeCookie(cookie: unknown): CookieOptions {
  const record = cookie === undefined ? {} : asRecord(cookie, "cookie");
  rejectUnknown(record, COOKIE_KEYS, "cookie.");
  const result: CookieOptions = { ...SESSION_DEFAULTS.cookie };
  for (const [key, value] of Object.entries(record)) {
    if (value !== undefined) Object.assign(result, { [key]: value });
  }
  const maxAge: unknown = result.maxAge;
  if (maxAge !== undefined && maxAge !== null) positiveInteger(maxAge, "cookie.maxAge", "ms");
  return result;
}

/** What {@link redisSession} hands to the store and to express-session. */
export interface NormalizedSessionOptions {
  store: NormalizedStoreOptions;
  /** express-session options without `store`; the factory adds it. */
  session: Omit<SessionOptions, "store">;
}

/**
 * Validates redisSession's options, applies the secure defaults and splits them between the store
 * and express-session.
 * @throws TypeError naming the option that is wrong.
 */
export function normalizeOptions(options: unknown): NormalizedSessionOptions {
  const record = asRecord(options, "options");
  if (record.store !== undefined) {
    throw new TypeError(
      "`store` is not an option of redisSession: it builds its own store from `redis`. " +
        "To bring a store, use express-session directly: session({ store: new RedisSessionStore(…) })",
    );
  }
  rejectConnectRedisOptions(record);
  rejectUnknown(record, [...STORE_KEYS, ...SESSION_KEYS], "");
  const cookie = normalizeCookie(record.cookie);
  const store = pickStoreOptions(record, cookieDefaultsOf(cookie));
  const session: Omit<SessionOptions, "store"> = {
    secret: normalizeSecret(record.secret),
    name: nonEmptyString(record.name ?? SESSION_DEFAULTS.name, "name"),
    resave: boolean(record.resave ?? SESSION_DEFAULTS.resave, "resave"),
    rolling: boolean(record.rolling ?? SESSION_DEFAULTS.rolling, "rolling"),
    saveUninitialized: boolean(
      record.saveUninitialized ?? SESSION_DEFAULTS.saveUninitialized,
      "saveUninitialized",
    ),
    cookie,
    genid: randomSessionId,
  };
  if (record.proxy !== undefined) session.proxy = boolean(record.proxy, "proxy");
  if (record.genid !== undefined) {
    if (typeof record.genid !== "function") {
      throw new TypeError(`\`genid\` must be a function; got ${describe(record.genid)}`);
    }
    session.genid = record.genid as SessionOptions["genid"];
  }
  if (record.unset !== undefined) {
    if (record.unset !== "destroy" && record.unset !== "keep") {
      throw new TypeError(`\`unset\` must be "destroy" or "keep"; got ${describe(record.unset)}`);
    }
    session.unset = record.unset;
  }
  return { store, session };
}

/**
 * What a cookie of this middleware has unless a request changes it: express-session's defaults
 * under the fixed settings of `cookie` (`secure: "auto"` decides per request, so it is none).
 * Stored cookies leave these out.
 */
function cookieDefaultsOf(cookie: SessionOptions["cookie"]): CookieDefaults {
  const defaults: Record<string, unknown> = { ...EXPRESS_COOKIE_DEFAULTS };
  const given = (cookie ?? {}) as Record<string, unknown>;
  for (const name of [
    "path",
    "httpOnly",
    "sameSite",
    "secure",
    "domain",
    "priority",
    "partitioned",
  ]) {
    const value = given[name];
    if (value === undefined || value === "auto") continue;
    defaults[name] = value;
  }
  return defaults;
}
