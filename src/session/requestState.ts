import { RedisUnavailableError } from "../errors/RedisUnavailableError.js";

/**
 * What the store knows of one request, kept on the request object itself under symbols (not
 * enumerable, gone with the request):
 *
 * - the time it has waited for Redis: `unavailable.waitMs` covers every store operation of one
 *   request together, so a request whose session read waited for Redis has only the rest for its
 *   write (and a route's own failed `save()` leaves nothing for the response's). A 503 then comes
 *   within the bound of the request, whatever the route does.
 * - the causal token of its last acknowledged write (`readFrom: "replica"`), whoever made the
 *   write — the route's own `save()`, `login()`, a `regenerate` or the middleware at the end — for
 *   the response to hand to the browser.
 */
const WAITED = Symbol("redis-ha-session.waited");
const TOKEN = Symbol("redis-ha-session.token");

type Tagged = Record<symbol, number | undefined>;

/** What the request (express-session's `session.req`) may still wait; `waitMs` without one. */
export function remainingWait(req: object | undefined, waitMs: number): number {
  const waited = req === undefined ? undefined : (req as Tagged)[WAITED];
  return waited === undefined ? waitMs : waitMs - waited;
}

/** Adds `ms` to what the request has waited for Redis. */
export function chargeWait(req: object | undefined, ms: number): void {
  if (req === undefined) return;
  set(req, WAITED, ((req as Tagged)[WAITED] ?? 0) + ms);
}

/** Records the causal token of a write the request made (the last one counts). */
export function recordToken(req: object | undefined, token: number): void {
  if (req !== undefined) set(req, TOKEN, token);
}

/** The causal token of the request's last acknowledged write, if it made one. */
export function tokenOf(req: object): number | undefined {
  return (req as Tagged)[TOKEN];
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
 * Runs a store operation of request `req` with what the request may still wait for Redis of its
 * bound, and counts its time against it (without a request: the whole bound).
 * @throws RedisUnavailableError at once (counted) when the request has no wait left
 */
export async function withinRequest<T>(
  req: object | undefined,
  what: string,
  { waitMs, counters }: WaitBound,
  operation: (waitMs: number) => Promise<T>,
): Promise<T> {
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
    return await operation(remaining);
  } finally {
    chargeWait(req, Date.now() - started);
  }
}

/** Sets a property that JSON, for…in and Object.keys/assign do not see. */
function set(target: object, key: symbol, value: number): void {
  if (Object.hasOwn(target, key)) (target as Tagged)[key] = value;
  else Object.defineProperty(target, key, { value, writable: true, configurable: true });
}
