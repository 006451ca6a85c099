import { RedisUnavailableError } from "../errors/RedisUnavailableError.js";
import type { Budget, Keyspace } from "../redis/Keyspace.js";

/**
 * What the store knows of one request, in one object on the request itself (under a symbol: not
 * enumerable, gone with the request). What it knows of each session the request handles (as read,
 * bound to a user) lives on the session object instead (see RequestSnapshots): a request may
 * regenerate its session, and the store reads a session before express-session tells it which
 * request it is for.
 */
export class RequestState {
  /**
   * What the request may still wait for Redis: `unavailable.waitMs` covers every store operation
   * of one request together, so a request whose session read waited for Redis has only the rest
   * for its write (and a route's own failed `save()` leaves nothing for the response's). A 503
   * then comes within the bound of the request, whatever the route does. Made on first use.
   */
  budget: Budget | undefined;
  /**
   * The causal token of its last acknowledged write (`readFrom: "replica"`), whoever made the
   * write — the route's own `save()`, `login()`, a `regenerate` or the middleware at the end — for
   * the response to hand to the browser (see tokenCookie.ts).
   */
  token: number | undefined;
  /** On a Cluster, the hash tag the next id of a request logging in must start with. */
  loginTag: string | undefined;
}

const STATE = Symbol("redis-ha-session.request");

/** The request's state, if the store has noted anything of it yet. */
export function heldStateOf(req: object): RequestState | undefined {
  return (req as Record<symbol, RequestState | undefined>)[STATE];
}

/** The request's state, made on first use. */
export function stateOf(req: object): RequestState {
  const held = heldStateOf(req);
  if (held !== undefined) return held;
  const state = new RequestState();
  // A property that JSON, for…in and Object.keys/assign do not see.
  Object.defineProperty(req, STATE, { value: state, configurable: true });
  return state;
}

/** The request a Session object belongs to (express-session sets `req` on it). */
export function requestOf(session: object): object | undefined {
  const { req } = session as { req?: unknown };
  return typeof req === "object" && req !== null ? req : undefined;
}

/** The wait budget of request `req` with `keyspace`; without a request, a fresh one. */
export function budgetOf(req: object | undefined, keyspace: Keyspace): Budget {
  if (req === undefined) return keyspace.budget();
  const state = stateOf(req);
  state.budget ??= keyspace.budget();
  return state.budget;
}

/**
 * Runs a store operation of request `req` within what the request may still wait for Redis,
 * which its commands spend (without a request: the whole bound).
 * @throws RedisUnavailableError at once (counted) when the request has no wait left
 */
export async function withinRequest<T>(
  req: object | undefined,
  what: string,
  keyspace: Keyspace,
  operation: (budget: Budget) => Promise<T>,
): Promise<T> {
  const budget = budgetOf(req, keyspace);
  if (budget.remainingMs <= 0) {
    keyspace.counters.unavailable++;
    throw new RedisUnavailableError(
      `the ${what} was not sent: this request already waited ${budget.fullMs - budget.remainingMs} ms for ` +
        `Redis, its whole bound (option \`unavailable.waitMs\`)`,
    );
  }
  return operation(budget);
}
