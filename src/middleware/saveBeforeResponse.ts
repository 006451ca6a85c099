import type { Request, Response } from "express";
import type { RedisSessionStore } from "../store/RedisSessionStore.js";

/**
 * Holds the response back until a changed session is saved. express-session saves only after it
 * has sent the status line, so a failed save would still reach the user as a success; here the
 * first `write`/`end` waits for the save, and a failed save is handed to `fail` instead of the
 * handler's response being sent.
 */
export function saveBeforeResponse(
  req: Request,
  res: Response,
  store: RedisSessionStore,
  fail: (error: unknown) => void,
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
    if (res.headersSent || session === undefined || !hasChanges(store, session)) {
      release();
      return true;
    }
    state = "saving";
    const saved = (error: unknown): void => {
      if (error === undefined || error === null) {
        release();
        return;
      }
      state = "done";
      held.length = 0;
      restore();
      // Put the session back as Redis holds it: express-session must not store the rejected
      // change after the error response, nor choke on data it cannot serialise.
      store.revertUnsavedChanges(session);
      // The handler's headers (Location, Content-Type, …) described a success that did not happen.
      for (const name of res.getHeaderNames()) res.removeHeader(name);
      fail(error);
    };
    try {
      session.save(saved);
    } catch (error) {
      // express-session hashes the session before saving: circular data throws right here.
      saved(error);
    }
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

/** Whether the session needs saving; one that cannot even be encoded goes to save() to fail there. */
function hasChanges(store: RedisSessionStore, session: Request["session"]): boolean {
  try {
    return store.hasUnsavedChanges(session);
  } catch {
    return true;
  }
}
