import type { NextFunction, Request, Response } from "express";
import type { RedisSessionStore } from "../RedisSessionStore.js";
import type { TokenCookie } from "./tokenCookie.js";

/** Answers a request whose session could not be saved (one function for all requests). */
export type SaveFailure = (req: Request, res: Response, next: NextFunction, error: unknown) => void;

/**
 * Holds the response back until a changed session is saved. express-session saves only after it
 * has sent the status line, so a failed save would still reach the user as a success; here the
 * first `write`/`end` waits for the save, and a failed save is handed to `fail` instead of the
 * handler's response being sent. With `readFrom: "replica"`, the response then carries the causal
 * token of the request's last write, whoever made it (this gate, the route's own `save()`,
 * `login()`, a `regenerate`).
 */

export function saveBeforeResponse(
  req: Request,
  res: Response,
  store: RedisSessionStore,
  next: NextFunction,
  fail: SaveFailure,
  tokenCookie?: TokenCookie,
): void {
  // Two stores on `res`, and none when done: each property store on a response costs as much as
  // the rest of the gate (its methods stay in place and pass straight through once it is open).
  const gate = new ResponseGate(req, res, store, next, fail, tokenCookie);
  res.write = function heldWrite(...args: unknown[]): boolean {
    return gate.pass("write", args) as boolean;
  } as Response["write"];
  res.end = function heldEnd(this: Response, ...args: unknown[]): Response {
    gate.pass("end", args);
    return this;
  } as Response["end"];
}

/** The state of one response: its own write/end, and the calls held while the session saves. */
class ResponseGate {
  readonly #write: Response["write"];
  readonly #end: Response["end"];
  #state: "idle" | "saving" | "done" = "idle";
  /** Calls held while the session saves (none on most responses: allocated when needed). */
  #held: ["write" | "end", unknown[]][] | undefined;

  constructor(
    private readonly req: Request,
    private readonly res: Response,
    private readonly store: RedisSessionStore,
    private readonly next: NextFunction,
    private readonly fail: SaveFailure,
    /** readFrom "replica": the cookie a saved write's causal token goes in. */
    private readonly tokenCookie: TokenCookie | undefined,
  ) {
    // Put back on `res` and called with `res` as `this`, so unbound is right here.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    this.#write = res.write;
    // eslint-disable-next-line @typescript-eslint/unbound-method
    this.#end = res.end;
  }

  pass(method: "write" | "end", args: unknown[]): unknown {
    if (this.#state === "done") return this.#call(method, args);
    if (this.#state === "saving") {
      this.#held?.push([method, args]);
      return true;
    }
    const session = this.req.session as Request["session"] | undefined;
    if (this.res.headersSent || session === undefined || !hasChanges(this.store, session)) {
      this.#state = "done";
      this.tokenCookie?.write(this.req, this.res);
      return this.#call(method, args);
    }
    this.#held = [[method, args]];
    this.#state = "saving";
    try {
      session.save((error?: unknown) => {
        this.#saved(session, error);
      });
    } catch (error) {
      // express-session hashes the session before saving: circular data throws right here.
      this.#saved(session, error);
    }
    return true;
  }

  #saved(session: Request["session"], error: unknown): void {
    this.#state = "done";
    if (error === undefined || error === null) {
      this.tokenCookie?.write(this.req, this.res);
      for (const [method, args] of this.#held?.splice(0) ?? []) this.#call(method, args);
      return;
    }
    this.#held = undefined;
    // Put the session back as Redis holds it: express-session must not store the rejected change
    // after the error response, nor choke on data it cannot serialise.
    this.store.requests.revertUnsavedChanges(session);
    // The handler's headers (Location, Content-Type, …) described a success that did not happen.
    for (const name of this.res.getHeaderNames()) this.res.removeHeader(name);
    this.fail(this.req, this.res, this.next, error);
  }

  #call(method: "write" | "end", args: unknown[]): unknown {
    return Reflect.apply(method === "write" ? this.#write : this.#end, this.res, args);
  }
}

/** Whether the session needs saving; one that cannot even be encoded goes to save() to fail there. */
function hasChanges(store: RedisSessionStore, session: Request["session"]): boolean {
  try {
    return store.requests.hasUnsavedChanges(session);
  } catch {
    return true;
  }
}
