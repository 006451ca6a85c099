import { promisify } from "node:util";
import type { Request } from "express";
import type { Session, SessionData } from "express-session";
import { RedisSessionStore } from "../RedisSessionStore.js";
import type { UserSession } from "../UserSessions.js";

/** A user as login() takes it: an id, or an object with an `id`. */
export type LoginUser =
  string | number | { readonly id: string | number; readonly [key: string]: unknown };

/** Options of {@link login}. */
export interface LoginOptions {
  /**
   * Keys of the pre-login session to carry into the new one (a cart, a return URL).
   * @default []
   */
  keep?: string[] | undefined;
}

/**
 * Logs the user in: gives the session a new id (the pre-login id is destroyed in Redis, so a
 * fixated or stolen pre-login cookie is worthless), stores `user` as `req.session.user`, saves,
 * and adds the session to the user's index for {@link sessionsOf} and {@link logoutEverywhere}.
 *
 * @example
 * app.post("/login", async (req, res) => {
 *   const user = await users.verify(req.body.username, req.body.password);
 *   if (!user) return res.status(401).send("Wrong username or password");
 *   await login(req, { id: user.id, name: user.name }, { keep: ["cart"] });
 *   res.redirect("/");
 * });
 */
export async function login(
  req: Request,
  user: LoginUser,
  options: LoginOptions = {},
): Promise<void> {
  const userId = userIdOf(user);
  const store = storeOf(req);
  const keep = options.keep ?? [];
  // No session after a logout() in the same request: a new one is made all the same.
  const before = ((req as { session?: Session }).session ?? {}) as Record<string, unknown>;
  const carried = keep.filter((key) => key in before).map((key) => [key, before[key]] as const);
  await store.requests.prepareLogin(req, userId);
  await promisify(store.regenerate.bind(store))(req);
  const session = req.session as Session & Record<string, unknown>;
  for (const [key, value] of carried) session[key] = value;
  session.user = user;
  store.requests.bindToUser(session, userId);
  await promisify(session.save.bind(session))();
}

/**
 * Logs this session out: destroys it in Redis (and in its user's index), within what the request
 * may still wait for Redis. Requests of the same session still in flight cannot bring it back.
 * @throws RedisUnavailableError when Redis does not confirm it in time
 */
export async function logout(req: Request): Promise<void> {
  if ((req.session as Session | undefined) === undefined) return;
  const store = storeOf(req);
  // As express-session's own destroy() does.
  delete (req as { session?: Session }).session;
  await store.requests.destroyFor(req);
}

/**
 * Logs a user out of every session on every device. Given a request, the user is the one its
 * session was logged in with (nothing happens for an anonymous session); given a user id, that
 * user. Returns how many sessions were ended.
 *
 * @example
 * app.post("/logout-all", async (req, res) => {
 *   await logoutEverywhere(req);
 *   res.redirect("/login");
 * });
 */
export async function logoutEverywhere(
  target: Request | LoginUser,
  store?: RedisSessionStore,
): Promise<number> {
  if (isRequest(target)) {
    const session = target.session as Session | undefined;
    if (session === undefined) return 0;
    const owner = storeOf(target);
    const userId = owner.requests.userIdOf(session as unknown as SessionData);
    if (userId === undefined) return 0;
    const ended = await owner.destroyUserSessions(userId, target);
    await logout(target);
    return ended;
  }
  return defaultStore(store).destroyUserSessions(userIdOf(target));
}

/**
 * The user's live sessions: id, when logged in, when last seen, and the `userAgent` session key if
 * the app stored one. Session ids are bearer secrets: use them to end a session, never show them.
 */
export function sessionsOf(user: LoginUser, store?: RedisSessionStore): Promise<UserSession[]> {
  return defaultStore(store).sessionsOf(userIdOf(user));
}

function userIdOf(user: LoginUser): string {
  // Callers without types may pass anything: check what arrives.
  const given = user as unknown;
  const id = typeof given === "object" && given !== null ? (given as { id?: unknown }).id : given;
  if ((typeof id === "string" && id !== "") || (typeof id === "number" && Number.isFinite(id))) {
    return String(id);
  }
  throw new TypeError(
    "the user must be a non-empty id (string or number) or an object with an `id`",
  );
}

function storeOf(req: Request): RedisSessionStore {
  const store = (req as { sessionStore?: unknown }).sessionStore;
  if (!(store instanceof RedisSessionStore)) {
    throw new TypeError(
      "this request has no RedisSessionStore session: use redisSession() (or express-session " +
        "with a RedisSessionStore) before the route",
    );
  }
  return store;
}

function defaultStore(store: RedisSessionStore | undefined): RedisSessionStore {
  if (store !== undefined) return store;
  const open = RedisSessionStore.open;
  const [only] = open;
  if (open.size !== 1 || only === undefined) {
    throw new TypeError(
      `${open.size === 0 ? "no" : String(open.size)} RedisSessionStores are open: ` +
        "pass the store (e.g. `sessions.store`) as the second argument",
    );
  }
  return only;
}

function isRequest(value: unknown): value is Request {
  return typeof value === "object" && value !== null && "headers" in value && "method" in value;
}
