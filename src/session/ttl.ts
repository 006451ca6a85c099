import type { Cookie } from "express-session";

/**
 * How long a session lives in Redis and when its TTL is renewed: the one place this is decided
 * (the scripts are given the result).
 */
export class TtlPolicy {
  constructor(
    private readonly options: {
      /** A fixed TTL, or undefined to take each session's cookie maxAge. */
      ttlMs: number | undefined;
      defaultTtlMs: number;
      /** A fixed `touchAfter`, or undefined for `touchAfterShare` of the TTL, at most `touchAfterCapMs`. */
      touchAfterMs: number | undefined;
      touchAfterShare: number;
      touchAfterCapMs: number;
    },
  ) {}

  /** `ttl` when set, else the cookie's maxAge (a per-session "remember me"), else a day. */
  ttlFor(cookie: Cookie | undefined): number {
    if (this.options.ttlMs !== undefined) return this.options.ttlMs;
    const maxAge = cookie?.originalMaxAge;
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
