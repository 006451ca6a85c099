import type { Cookie } from "express-session";
import { DEFAULTS } from "./options.js";
import type { NormalizedStoreOptions } from "./options.js";

/**
 * How long a session lives in Redis and when its TTL is renewed: the one place this is decided
 * (the scripts are given the result).
 */
export class TtlPolicy {
  constructor(
    private readonly options: Pick<
      NormalizedStoreOptions,
      "ttlMs" | "defaultTtlMs" | "touchAfterMs"
    >,
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
    const { touchAfterMs } = this.options;
    if (touchAfterMs === 0) return true;
    const { touchAfterShare, touchAfterCapMs } = DEFAULTS.store;
    const after = touchAfterMs ?? Math.min(touchAfterCapMs, ttlMs * touchAfterShare);
    return now - touchedAt >= Math.min(after, ttlMs / 2);
  }
}
