import session from "express-session";
import { TokenCookie } from "./tokenCookie.js";
import { debugFor } from "../../redis/debug.js";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { normalizeOptions } from "./sessionOptions.js";
import type { RedisSessionOptions } from "./sessionOptions.js";
import { RedisSessionStore } from "../RedisSessionStore.js";
import { saveBeforeResponse } from "./saveBeforeResponse.js";
import { isUnavailableError, sendUnavailable } from "./unavailableResponse.js";

const log = debugFor("middleware");

/** The middleware, with the store it saves to (for health checks, helpers and shutdown). */
export type RedisSessionMiddleware = RequestHandler & { store: RedisSessionStore };

/**
 * express-session on a {@link RedisSessionStore}, with secure defaults: cookie `sid`, httpOnly,
 * sameSite lax, secure when the request is (behind `trust proxy`), rolling expiry, no session
 * stored until something is put in it, 192-bit ids.
 *
 * @example
 * app.set("trust proxy", 1);
 * app.use(redisSession({
 *   secret: process.env.SESSION_SECRET!,
 *   redis: { sentinels: [{ host: "10.0.0.5", port: 26379 }], name: "mymaster" },
 * }));
 * @throws TypeError at start-up for a bad option, naming it.
 */
export function redisSession(options: RedisSessionOptions): RedisSessionMiddleware {
  const normalized = normalizeOptions(options);
  const store = RedisSessionStore.of(normalized.store);
  const handler = session({ ...normalized.session, store });
  const { retryAfterSeconds } = normalized.store;
  // readFrom "replica": the causal token travels in a cookie of its own beside the session's.
  const tokenCookie =
    normalized.store.readFrom === "replica"
      ? new TokenCookie(`${normalized.session.name ?? "sid"}.v`)
      : undefined;
  /** A failed session read or save: 503 when Redis cannot take it now, else the error handlers. */
  const fail = (req: Request, res: Response, next: NextFunction, error: unknown): void => {
    if (!isUnavailableError(error)) {
      next(error);
      return;
    }
    log("answering 503: %s", error instanceof Error ? error.message : String(error));
    sendUnavailable(req, res, retryAfterSeconds);
  };
  const redisSessionMiddleware: RequestHandler = (req, res, next) => {
    // During a lasting outage express-session would skip the session (the user would look logged
    // out); answer 503 instead.
    if (!store.available) {
      store.requests.countTurnedAway();
      sendUnavailable(req, res, retryAfterSeconds);
      return;
    }
    const done = (error?: unknown) => {
      if (error !== undefined && error !== null) {
        fail(req, res, next, error);
        return;
      }
      saveBeforeResponse(req, res, store, next, fail, tokenCookie);
      next();
    };
    if (tokenCookie === undefined) handler(req, res, done);
    else store.requests.withReadToken(tokenCookie.read(req), () => handler(req, res, done));
  };
  return Object.assign(redisSessionMiddleware, { store });
}
