import type { Request } from "express";
import type { SessionData } from "express-session";
import type { Keyspace } from "../redis/Keyspace.js";
import type { RequestSnapshots } from "./RequestSnapshots.js";
import { stateOf, withinRequest } from "./requestState.js";
import type { SessionCommands } from "./SessionCommands.js";
import type { UserSessions } from "./UserSessions.js";

/**
 * What redisSession and login() ask of a store about the request they handle: not part of the
 * store's public face (`store.requests`, internal).
 */
export class RequestHooks {
  /** The causal token of the request whose session express-session reads now (see withReadToken). */
  readToken = 0;

  constructor(
    private readonly keyspace: Keyspace,
    private readonly commands: SessionCommands,
    private readonly snapshots: RequestSnapshots,
    private readonly users: UserSessions,
  ) {}

  /**
   * Binds the session to a user: its next save records the user id with it and adds it to the
   * user's index (`<prefix>user:<userId>`), which sessionsOf and logoutEverywhere read.
   */
  bindToUser(session: SessionData, userId: string): void {
    this.snapshots.bind(session, userId);
  }

  /** The user id a session was bound to by login(), if any. */
  userIdOf(session: SessionData): string | undefined {
    return this.snapshots.userIdOf(session);
  }

  /**
   * The next regenerate() of `req` issues an id in the slot of the user's index (on a Cluster;
   * elsewhere any id is). Within what the request may still wait.
   */
  async prepareLogin(req: Request, userId: string): Promise<void> {
    const tag = await withinRequest(req, "login", this.keyspace, (budget) =>
      this.users.tagOf(userId, budget),
    );
    if (tag !== "") stateOf(req).loginTag = tag;
  }

  /** Deletes the request's session within what the request may still wait (logout, regenerate). */
  destroyFor(req: Request): Promise<void> {
    return withinRequest(req, "session delete", this.keyspace, (budget) =>
      this.commands.destroy(req.sessionID, budget),
    );
  }

  /**
   * Runs `run` (express-session's handler, which calls the store's `get` synchronously) with the
   * request's causal token: a replica read must have reached it (`readFrom: "replica"`).
   */
  withReadToken(token: number, run: () => void): void {
    this.readToken = token;
    try {
      run();
    } finally {
      this.readToken = 0;
    }
  }

  /**
   * Whether saving `session` would write anything: a field changed, added or removed since this
   * request read it, or, for a new session, anything besides the cookie.
   */
  hasUnsavedChanges(session: SessionData): boolean {
    return this.snapshots.hasUnsavedChanges(session);
  }

  /**
   * Puts the session's data back to what this request last read or wrote, dropping changes that
   * could not be saved. A new session keeps only its cookie.
   */
  revertUnsavedChanges(session: SessionData): void {
    this.snapshots.revert(session);
  }

  /** redisSession turned a request away during a lasting outage (a 503). */
  countTurnedAway(): void {
    this.keyspace.counters.unavailable++;
  }
}
