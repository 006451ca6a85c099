import type { SessionData } from "express-session";

/** `ttl` given as a function: seconds a session lives, from the session (connect-redis' form). */
export type SessionTtl = (session: SessionData) => number;

/**
 * How long a session lives in Redis and when its TTL is renewed: the one place this is decided
 * (the scripts are given the result).
 */
export class TtlPolicy {
  constructor(
    private readonly options: {
      /** A fixed TTL, or undefined to take each session's cookie maxAge. */
      ttlMs: number | undefined;
      /** `ttl` as a function of the session, which then decides over `ttlMs` and the cookie. */
      ttlOf?: SessionTtl | undefined;
      defaultTtlMs: number;
      /** A fixed `touchAfter`, or undefined for `touchAfterShare` of the TTL, at most `touchAfterCapMs`. */
      touchAfterMs: number | undefined;
      touchAfterShare: number;
      touchAfterCapMs: number;
    },
  ) {}

  /**
   * Whether the TTL comes from the app's function of the session: then only code that has the
   * whole session can work it out (not the read script, which renews before anything is decoded).
   */
  get computed(): boolean {
    return this.options.ttlOf !== undefined;
  }

  /**
   * `ttl(session)` when `ttl` is a function; else `ttl` when set, else the cookie's maxAge (a
   * per-session "remember me"), else a day.
   * @throws TypeError when the function returns anything but a positive number of seconds
   */
  ttlFor(session: Partial<SessionData> | undefined): number {
    const { ttlOf, ttlMs } = this.options;
    if (ttlOf !== undefined && session !== undefined) return computedMs(ttlOf, session);
    if (ttlMs !== undefined) return ttlMs;
    const maxAge = session?.cookie?.originalMaxAge;
    return typeof maxAge === "number" && maxAge >= 1
      ? Math.floor(maxAge)
      : this.options.defaultTtlMs;
  }

  /** Whether the TTL needs renewing: the last renewal is `touchAfter` old, or unknown. */
  renewalDue(touchedAt: number | undefined, ttlMs: number, now: number): boolean {
    if (touchedAt === undefined || !Number.isFinite(touchedAt)) return true;
    const { touchAfterMs, touchAfterShare, touchAfterCapMs } = this.options;
    if (touchAfterMs === 0) return true;
    const after = touchAfterMs ?? Math.min(touchAfterCapMs, ttlMs * touchAfterShare);
    return now - touchedAt >= Math.min(after, ttlMs / 2);
  }
}

function computedMs(ttlOf: SessionTtl, session: Partial<SessionData>): number {
  const seconds: unknown = ttlOf(session as SessionData);
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds <= 0) {
    throw new TypeError(
      `\`ttl\` returned ${typeof seconds === "number" ? String(seconds) : typeof seconds} for a ` +
        "session: it must return a positive number of seconds",
    );
  }
  return Math.max(1, Math.round(seconds * 1000));
}
