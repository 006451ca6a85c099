import express from "express";
import type { ErrorRequestHandler, Express } from "express";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";
import {
  healthHandler,
  login,
  logout,
  logoutEverywhere,
  redisSession,
  sessionsOf,
} from "../../src/index.js";
import type { RedisSessionMiddleware, RedisSessionOptions } from "../../src/index.js";

export const TEST_SECRET = "test-secret-that-is-at-least-32-characters-long";

declare module "express-session" {
  interface SessionData {
    user?: unknown;
    [key: string]: unknown;
  }
}

/**
 * The app the tests drive: it does with a session what an application does, and reports what it
 * sees. `instance` tells which process answered.
 */
export function createTestApp(
  options: Partial<RedisSessionOptions> & Pick<RedisSessionOptions, "redis">,
  instance = "test",
): { app: Express; sessions: RedisSessionMiddleware } {
  const app = express();
  const sessions = redisSession({ secret: TEST_SECRET, ...options });
  const storeEvents = { disconnect: 0, connect: 0, failover: 0 };
  for (const event of ["disconnect", "connect", "failover"] as const) {
    sessions.store.on(event, () => storeEvents[event]++);
  }
  // A master's writes acknowledged with fewer copies than asked, and back.
  const durabilityEvents = { degraded: 0, restored: 0 };
  for (const event of ["degraded", "restored"] as const) {
    sessions.store.on(event, () => durabilityEvents[event]++);
  }
  app.get("/durability-events", (_req, res) => {
    res.json(durabilityEvents);
  });
  app.get("/healthz", healthHandler(sessions.store));
  // Event-loop delay since the last call (ms), and the process's memory: for the soak.
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  app.get("/process", (_req, res) => {
    const p99 = loop.percentile(99) / 1e6;
    loop.reset();
    res.json({ eventLoopP99Ms: p99, rssBytes: process.memoryUsage.rss() });
  });
  // The app's wall clock, which the clock-skew test shifts.
  app.get("/clock", (_req, res) => {
    res.json({ now: Date.now() });
  });
  app.get("/store-events", (_req, res) => {
    res.json(storeEvents);
  });
  app.use(express.json({ limit: "1mb" }));
  app.use(sessions);

  app.get("/me", (req, res) => {
    res.json({ instance, user: req.session.user ?? null });
  });
  app.post("/login", (req, res) => {
    req.session.user = String((req.body as { user?: unknown }).user);
    res.json({ instance, user: req.session.user });
  });
  app.post("/logout", (req, res, next) => {
    req.session.destroy((error) => {
      if (error) next(error);
      else res.json({ instance, user: null });
    });
  });
  app.put("/session/:key", (req, res) => {
    req.session[req.params.key] = (req.body as { value?: unknown }).value;
    res.json({ instance });
  });
  // Saves the session itself and passes a failure on to the error handlers, as many apps do.
  app.put("/save-itself/:key", (req, res, next) => {
    req.session[req.params.key] = (req.body as { value?: unknown }).value;
    req.session.save((error) => {
      if (error) next(error);
      else res.json({ instance });
    });
  });
  app.delete("/session/:key", (req, res) => {
    // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- the test names the key
    delete req.session[req.params.key];
    res.json({ instance });
  });
  app.post("/remember", (req, res) => {
    req.session.cookie.maxAge = Number((req.body as { maxAge?: unknown }).maxAge);
    // express-session works originalMaxAge out from the clock: the response tells what it came to.
    res.json({ instance, originalMaxAge: req.session.cookie.originalMaxAge });
  });
  // A cookie setting changed for this session only.
  app.post("/strict", (req, res) => {
    req.session.cookie.sameSite = "strict";
    res.json({ instance });
  });
  app.post("/circular", (req, res) => {
    const value: Record<string, unknown> = {};
    value.self = value;
    req.session.circular = value;
    res.json({ instance });
  });
  // A shopping cart: each acknowledged item must survive whatever happens to Redis.
  app.post("/cart", (req, res) => {
    const { user } = req.session;
    if (user === undefined) {
      res.status(401).json({ instance, error: "not logged in" });
      return;
    }
    const cart = req.session.cart ?? [];
    req.session.cart = [...cart, String((req.body as { item?: unknown }).item)];
    res.json({ instance, user, count: cart.length + 1 });
  });
  // The same cart change, stored through each way a route can save a session: the middleware at
  // the end (`end`), the route's own save() (`save`), express-session's login idiom of regenerate
  // then save() (`regenerate`), login() (`login`), and logout() then login() (`relogin`).
  app.post("/cart/:via", async (req, res, next) => {
    const { user } = req.session;
    if (user === undefined) {
      res.status(401).json({ instance, error: "not logged in" });
      return;
    }
    const cart = [...(req.session.cart ?? []), String((req.body as { item?: unknown }).item)];
    // A string by /login, an object by login().
    const name = typeof user === "string" ? user : (user as { id: string }).id;
    const answer = () => res.json({ instance, user, count: cart.length });
    const saved = (error: unknown) => {
      if (error) next(error);
      else answer();
    };
    try {
      switch (req.params.via) {
        case "end":
          req.session.cart = cart;
          answer();
          return;
        case "save":
          req.session.cart = cart;
          req.session.save(saved);
          return;
        case "regenerate":
          req.session.regenerate((error) => {
            if (error) {
              next(error);
              return;
            }
            req.session.user = user;
            req.session.cart = cart;
            req.session.save(saved);
          });
          return;
        case "login":
          req.session.cart = cart;
          await login(req, { id: name }, { keep: ["cart"] });
          answer();
          return;
        case "relogin":
          await logout(req);
          await login(req, { id: name });
          req.session.cart = cart;
          answer();
          return;
        default:
          res.status(404).json({ instance, error: "no such way to save" });
      }
    } catch (error) {
      next(error);
    }
  });
  // Checkout: the cart is emptied.
  app.delete("/cart", (req, res) => {
    if (req.session.user === undefined) {
      res.status(401).json({ instance, error: "not logged in" });
      return;
    }
    req.session.cart = [];
    res.json({ instance, cart: [] });
  });
  app.get("/cart", (req, res) => {
    const { user } = req.session;
    if (user === undefined) {
      res.status(401).json({ instance, error: "not logged in" });
      return;
    }
    res.json({ instance, user, cart: req.session.cart ?? [] });
  });
  // The session helpers, as an app would use them.
  app.post("/auth/login", async (req, res) => {
    const name = String((req.body as { user?: unknown }).user);
    await login(req, { id: name, name }, { keep: ["cart"] });
    req.session.userAgent = req.get("user-agent");
    res.json({ instance, user: req.session.user });
  });
  app.post("/auth/logout", async (req, res) => {
    await logout(req);
    res.json({ instance, user: null });
  });
  app.post("/auth/logout-all", async (req, res) => {
    res.json({ instance, ended: await logoutEverywhere(req) });
  });
  app.get("/auth/sessions/:user", async (req, res) => {
    res.json({ instance, sessions: await sessionsOf(req.params.user, sessions.store) });
  });
  // Loads the session, then takes its time before changing it (to `value`, else true): a request
  // still in flight.
  app.put("/slow/:key", async (req, res) => {
    await delay(Number(req.query.ms ?? 500));
    req.session[req.params.key] = typeof req.query.value === "string" ? req.query.value : true;
    res.json({ instance });
  });
  app.get("/session", (req, res) => {
    const { cookie: _cookie, ...data } = req.session;
    res.json({ instance, data });
  });

  const onError: ErrorRequestHandler = (error: Error, _req, res, _next) => {
    res.status(500).json({ error: error.name, message: error.message });
  };
  app.use(onError);
  return { app, sessions };
}
