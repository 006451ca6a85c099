import type { NextFunction, Request, Response } from "express";
import type { RedisSessionStore } from "../store/RedisSessionStore.js";

/**
 * Holds the response back until a changed session is saved. express-session saves only after it
 * has sent the status line, so a failed save would still reach the user as a success; here the
 * first `write`/`end` waits for the save, and a failed save becomes the request's error (500, or
 * 503 when Redis is unavailable) instead of the handler's response.
 */
export function saveBeforeResponse(
  req: Request,
  res: Response,
  store: RedisSessionStore,
  next: NextFunction,
): void {
  // Put back on `res` and called with `res` as `this`, so unbound is right here.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const { write, end } = res;
  let state: "idle" | "saving" | "done" = "idle";
  const held: (() => unknown)[] = [];

  const restore = (): void => {
    res.write = write;
    res.end = end;
  };
  const gate = (call: () => unknown): unknown => {
    if (state === "done") return call();
    held.push(call);
    if (state === "saving") return true;
    const session = req.session as typeof req.session | undefined;
    if (res.headersSent || session === undefined || !store.hasUnsavedChanges(session)) {
      release();
      return true;
    }
    state = "saving";
    session.save((error: unknown) => {
      if (error === undefined || error === null) {
        release();
        return;
      }
      state = "done";
      held.length = 0;
      restore();
      // The handler's headers (Location, Content-Type, …) described a success that did not happen.
      for (const name of res.getHeaderNames()) res.removeHeader(name);
      next(error);
    });
    return true;
  };
  const release = (): void => {
    state = "done";
    restore();
    for (const call of held.splice(0)) call();
  };

  res.write = function heldWrite(this: Response, ...args: unknown[]): boolean {
    return gate(() => Reflect.apply(write, this, args)) as boolean;
  } as Response["write"];
  res.end = function heldEnd(this: Response, ...args: unknown[]): Response {
    gate(() => Reflect.apply(end, this, args));
    return this;
  } as Response["end"];
}
