import type { Request, Response } from "express";
import { NotDurableError } from "../../errors/NotDurableError.js";
import { RedisUnavailableError } from "../../errors/RedisUnavailableError.js";

/** Errors that mean "Redis cannot take this now": answered 503, never a fresh session. */
export function isUnavailableError(error: unknown): boolean {
  return error instanceof RedisUnavailableError || error instanceof NotDurableError;
}

/**
 * Answers `503` with `Retry-After`, JSON or HTML by `Accept`. The request's session is taken away
 * first, so express-session neither sends a cookie (the user's stays as it was) nor saves or
 * destroys anything for this request.
 */
export function sendUnavailable(req: Request, res: Response, retryAfterSeconds: number): void {
  const request = req as unknown as { session?: unknown; sessionID?: unknown };
  delete request.session;
  delete request.sessionID;
  res.removeHeader("Set-Cookie");
  res.status(503);
  res.set({ "Retry-After": String(retryAfterSeconds), "Cache-Control": "no-store" });
  const message = "Sessions are unavailable for a moment. Please try again shortly.";
  if (req.accepts(["html", "json"]) === "json") {
    res.json({ error: "session_store_unavailable", message, retryAfter: retryAfterSeconds });
  } else {
    res
      .type("html")
      .send(
        `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>503 Service Unavailable</title></head>` +
          `<body><h1>Service Unavailable</h1><p>${message}</p></body></html>`,
      );
  }
}
