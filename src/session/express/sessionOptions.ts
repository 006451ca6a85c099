import { randomBytes } from "node:crypto";
import type { CookieOptions } from "express-session";
import { DEFAULTS } from "../options.js";
import { asRecord, positiveInteger, rejectUnknown } from "../../redis/validate.js";

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
  return randomBytes(DEFAULTS.session.idBytes).toString("base64url");
}

export function normalizeSecret(secret: unknown): string | string[] {
  const { minSecretLength } = DEFAULTS.session;
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
  const result: CookieOptions = { ...DEFAULTS.session.cookie };
  for (const [key, value] of Object.entries(record)) {
    if (value !== undefined) Object.assign(result, { [key]: value });
  }
  const maxAge: unknown = result.maxAge;
  if (maxAge !== undefined && maxAge !== null) positiveInteger(maxAge, "cookie.maxAge", "ms");
  return result;
}
