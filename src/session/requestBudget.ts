import { RedisUnavailableError } from "../errors/RedisUnavailableError.js";

/**
 * The wait bound is per request: `unavailable.waitMs` covers every store operation of one
 * request together, so a request whose session read waited for Redis has only the rest for its
 * write (and a route's own failed `save()` leaves nothing for the response's). A 503 then comes
 * within the bound of the request, whatever the route does.
 *
 * What a request has waited rides on the request object, under a symbol, not enumerable.
 */
const WAITED = Symbol("redis-ha-session.waited");

type Tagged = Record<symbol, number | undefined>;

/** What the request (express-session's `session.req`) may still wait; `waitMs` without one. */
export function remainingWait(req: object | undefined, waitMs: number): number {
  const waited = req === undefined ? undefined : (req as Tagged)[WAITED];
  return waited === undefined ? waitMs : waitMs - waited;
}

/** Adds `ms` to what the request has waited for Redis. */
export function chargeWait(req: object | undefined, ms: number): void {
  if (req === undefined) return;
  const tagged = req as Tagged;
  if (Object.hasOwn(req, WAITED)) tagged[WAITED] = (tagged[WAITED] ?? 0) + ms;
  else Object.defineProperty(req, WAITED, { value: ms, writable: true, configurable: true });
}

/** The request a Session object belongs to (express-session sets `req` on it). */
export function requestOf(session: object): object | undefined {
  const { req } = session as { req?: unknown };
  return typeof req === "object" && req !== null ? req : undefined;
}

/** A store's wait bound, and where it counts the requests that spent it. */
export interface WaitBound {
  waitMs: number;
  counters: { unavailable: number };
}

/**
 * Runs a store operation of `session`'s request with what the request may still wait for Redis
 * of its bound, and counts its time against it.
 * @throws RedisUnavailableError at once (counted) when the request has no wait left
 */
export async function withinRequest(
  session: object,
  what: string,
  { waitMs, counters }: WaitBound,
  operation: (waitMs: number) => Promise<void>,
): Promise<void> {
  const req = requestOf(session);
  const remaining = remainingWait(req, waitMs);
  if (remaining <= 0) {
    counters.unavailable++;
    throw new RedisUnavailableError(
      `the ${what} was not sent: this request already waited ${waitMs - remaining} ms for ` +
        `Redis, its whole bound (option \`unavailable.waitMs\`)`,
    );
  }
  const started = Date.now();
  try {
    await operation(remaining);
  } finally {
    chargeWait(req, Date.now() - started);
  }
}
