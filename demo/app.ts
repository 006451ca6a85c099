import { csrfSync } from "csrf-sync";
import express from "express";
import type { ErrorRequestHandler, Express, Request, Response } from "express";
import { ipKeyGenerator, rateLimit } from "express-rate-limit";
import helmet from "helmet";
import type { Logger } from "pino";
import { pinoHttp } from "pino-http";
import {
  createCache,
  healthCheck,
  login,
  logout,
  logoutEverywhere,
  redisSession,
} from "redis-ha-session";
import type { RedisCache, RedisSessionMiddleware, RedisTopology } from "redis-ha-session";
import { Catalogue } from "./catalogue.js";
import { metricsHandler } from "./metrics.js";
import { homePage, loginPage } from "./pages.js";
import { productRoutes } from "./productRoutes.js";
import { verifyPassword } from "./users.js";

declare module "express-session" {
  interface SessionData {
    /** Set by login(): `{ id, name }` here. */
    user?: unknown;
    visits?: number;
    cart?: string[];
  }
}

/** The logged-in user's name, if any. */
function userName(req: Request): string | undefined {
  const { user } = req.session;
  return typeof user === "object" && user !== null && "name" in user
    ? String(user.name)
    : undefined;
}

export interface DemoAppOptions {
  /** Shown on every page and in /api/me: which instance served the request. */
  instance: string;
  redis: RedisTopology;
  secret: string;
  /** The products database (PostgreSQL), as a connection string. */
  databaseUrl: string;
  logger: Logger;
  /** Seconds a product stays fresh in the cache (`--cache-ttl`). */
  cacheTtl?: number | undefined;
}

/**
 * The demo app: a login, a session-backed cart, logout and logout everywhere, and a product
 * catalogue read through the DB cache, as HTML pages and a JSON API. It keeps nothing in memory
 * but the cache's local tier, which every instance keeps coherent: any instance can serve any
 * request.
 */
export function createDemoApp({
  instance,
  redis,
  secret,
  databaseUrl,
  logger,
  cacheTtl = 20,
}: DemoAppOptions): {
  app: Express;
  sessions: RedisSessionMiddleware;
  cache: RedisCache;
  catalogue: Catalogue;
} {
  const app = express();
  const sessions = redisSession({
    secret,
    redis,
    cookie: { maxAge: 86_400_000 },
    // Longer than the library's 10 s: when Sentinels split an election, two replicas get promoted
    // and the loser is demoted only on Sentinel's next 10-second INFO round; until then the new
    // master has no replica to confirm writes. The demo waits that out rather than answer 503.
    unavailable: { waitMs: 20_000 },
  });
  // Products: fresh for 20 s, then answered as they are for up to 5 minutes more while one
  // refresh runs for the whole fleet (stale-while-revalidate), or while PostgreSQL fails; the
  // hottest 1 000 also in each process for up to 10 s (dropped everywhere on every change).
  const cache = createCache({
    redis,
    ttl: cacheTtl,
    staleTtl: 300,
    local: { maxEntries: 1_000, ttl: Math.min(10, cacheTtl) },
  });
  const catalogue = new Catalogue(databaseUrl);
  const csrf = csrfSync({
    getTokenFromRequest: (req) => (req.body as { _csrf?: string } | undefined)?._csrf,
    // JSON calls cannot be made cross-site without a CORS preflight, which this app never allows.
    skipCsrfProtection: (req) => req.is("application/json") === "application/json",
  });

  app.set("trust proxy", 1);
  app.disable("x-powered-by");
  app.use(pinoHttp({ logger, autoLogging: { ignore: (req) => req.url === "/healthz" } }));
  app.use(helmet());
  // For the load balancer: 200 while this instance runs, with the Redis report in the body.
  // Redis is shared by every instance, so taking instances out for a Redis failover would only
  // turn a few seconds of waiting into errors.
  app.get("/healthz", async (_req, res) => {
    res.json({ instance, redis: await healthCheck(sessions.store, { timeoutMs: 1_000 }) });
  });
  // Prometheus scrapes each instance; in production keep this off the public listener.
  app.get("/metrics", metricsHandler(sessions.store, cache, instance));
  const products = productRoutes({
    cache,
    catalogue,
    instance,
    userName,
    csrfToken: (req) => csrf.generateToken(req),
  });
  // Product reads need no session: not a single session command for them.
  app.use(products.api);
  app.use(express.urlencoded({ extended: false, limit: "10kb" }));
  app.use(express.json({ limit: "10kb" }));
  app.use(sessions);
  app.use(csrf.csrfSynchronisedProtection);

  const loginLimit = rateLimit({
    windowMs: 60_000,
    limit: 20,
    standardHeaders: "draft-8",
    legacyHeaders: false,
    // Synthetic users log in often from one address; the limit is per address and user name.
    keyGenerator: (req) =>
      `${ipKeyGenerator(req.ip ?? "")}:${String((req.body as { username?: unknown }).username)}`,
  });

  const wantsJson = (req: Request) => req.accepts(["html", "json"]) === "json";
  const cart = (req: Request) => req.session.cart ?? [];

  app.get("/", (req, res) => {
    const user = userName(req);
    if (user === undefined) {
      res.redirect("/login");
      return;
    }
    req.session.visits = (req.session.visits ?? 0) + 1;
    res.send(
      homePage(instance, csrf.generateToken(req), {
        user,
        visits: req.session.visits,
        cart: cart(req),
      }),
    );
  });

  app.get("/login", (req, res) => {
    if (userName(req) !== undefined) {
      res.redirect("/");
      return;
    }
    res.send(loginPage(instance, csrf.generateToken(req)));
  });

  app.post("/login", loginLimit, async (req, res) => {
    const { username, password } = req.body as { username?: unknown; password?: unknown };
    const name =
      typeof username === "string" && typeof password === "string"
        ? await verifyPassword(username, password)
        : undefined;
    if (name === undefined) {
      if (wantsJson(req)) res.status(401).json({ error: "wrong username or password" });
      else
        res
          .status(401)
          .send(loginPage(instance, csrf.generateToken(req), "Wrong username or password."));
      return;
    }
    await login(req, { id: name, name }, { keep: ["cart"] });
    req.session.visits = 0;
    req.log.info({ user: name }, "login");
    if (wantsJson(req)) res.json({ user: name, instance });
    else res.redirect(303, "/");
  });

  app.get("/api/me", (req, res) => {
    const user = userName(req);
    if (user === undefined) {
      res.status(401).json({ error: "not logged in", instance });
      return;
    }
    req.session.visits = (req.session.visits ?? 0) + 1;
    res.json({ user, instance, pid: process.pid, visits: req.session.visits });
  });

  const addToCart = (req: Request, res: Response): boolean => {
    if (userName(req) === undefined) {
      res.status(401).json({ error: "not logged in", instance });
      return false;
    }
    const given = (req.body as { item?: unknown }).item;
    const item = typeof given === "string" ? given.trim().slice(0, 60) : "";
    if (item === "") {
      res.status(400).json({ error: "item is required", instance });
      return false;
    }
    req.session.cart = [...cart(req), item];
    return true;
  };
  app.post("/api/cart", (req, res) => {
    if (addToCart(req, res)) res.json({ cart: cart(req), instance });
  });
  app.post("/cart", (req, res) => {
    if (addToCart(req, res)) res.redirect(303, "/");
  });
  app.get("/api/cart", (req, res) => {
    if (userName(req) === undefined) {
      res.status(401).json({ error: "not logged in", instance });
      return;
    }
    res.json({ cart: cart(req), instance });
  });

  app.use(products.pages);

  app.post("/logout", async (req, res) => {
    await logout(req);
    if (wantsJson(req)) res.json({ user: null, instance });
    else res.redirect(303, "/login");
  });
  app.post("/logout-all", async (req, res) => {
    const ended = await logoutEverywhere(req);
    if (wantsJson(req)) res.json({ ended, instance });
    else res.redirect(303, "/login");
  });

  const onError: ErrorRequestHandler = (
    error: { status?: number; message?: string; name?: string },
    req,
    res,
    _next,
  ) => {
    // Redis or the database did not answer in time: try again in a second.
    const unavailable = error.status === 503 || error.name === "RedisUnavailableError";
    const status =
      typeof error.status === "number" && error.status < 500
        ? error.status
        : unavailable
          ? 503
          : 500;
    req.log.error({ err: error }, "request failed");
    if (unavailable) res.set("Retry-After", "1");
    if (wantsJson(req))
      res.status(status).json({ error: status === 500 ? "internal error" : error.message });
    else if (unavailable) res.status(503).send("Unavailable for a moment: try again.");
    else
      res
        .status(status)
        .send(
          status === 403 ? "Form expired: reload the page and try again." : "Something went wrong.",
        );
  };
  app.use(onError);
  return { app, sessions, cache, catalogue };
}
