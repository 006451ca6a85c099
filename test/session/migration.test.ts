import { RedisStore } from "connect-redis";
import express from "express";
import type { Express, RequestHandler } from "express";
import session from "express-session";
import { Redis } from "ioredis";
import { createClient } from "redis";
import request from "supertest";
import { CookieAccessInfo } from "cookiejar";
import { expect, test } from "vitest";
import { redisSession } from "../../src/index.js";
import { useSingleNode } from "../support/hooks.js";

// docs/migrating-from-connect-redis.md, as a test: an app on express-session + connect-redis 9
// (node-redis) has logged-in users; the same app moves to redisSession with the guide's settings
// (the cookie's name and the secret kept, the default prefix `sess:` the same); its users stay
// logged in with everything in their sessions, and a session the new app changes becomes a hash.

const redis = useSingleNode();
const secret = "the-secret-both-apps-share-32-chars-long";
const SITE = new CookieAccessInfo("127.0.0.1", "/", false, false);

/** What the shop keeps in a session. */
interface Shopper {
  user?: string;
  cart?: string[];
}

/** The routes both versions of the app have, behind `sessions`. */
function shop(sessions: RequestHandler): Express {
  const app = express();
  app.use(express.json());
  app.use(sessions);
  const shopper = (req: express.Request) => req.session as unknown as Shopper;
  app.post("/login", (req, res) => {
    shopper(req).user = (req.body as { user: string }).user;
    shopper(req).cart = [];
    res.json({ ok: true });
  });
  app.post("/cart", (req, res) => {
    const { user, cart = [] } = shopper(req);
    if (user === undefined) return void res.status(401).json({ error: "login" });
    shopper(req).cart = [...cart, (req.body as { item: string }).item];
    res.json({ cart: shopper(req).cart });
  });
  app.get("/me", (req, res) => {
    const { user, cart } = shopper(req);
    if (user === undefined) return void res.status(401).json({ error: "login" });
    res.json({ user, cart });
  });
  return app;
}

test("users of a connect-redis app stay logged in, with their carts, after the move to redisSession", async () => {
  const client = createClient({ url: redis.current.url });
  await client.connect();
  const before = shop(
    session({
      store: new RedisStore({ client }),
      secret,
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 86_400_000 },
    }),
  );
  const users = ["ada", "bo", "cy"];
  const cookies = new Map<string, string>();
  for (const user of users) {
    const agent = request.agent(before);
    await agent.post("/login").send({ user }).expect(200);
    await agent
      .post("/cart")
      .send({ item: `${user}-tea` })
      .expect(200);
    await agent
      .post("/cart")
      .send({ item: `${user}-milk` })
      .expect(200);
    const cookie = agent.jar.getCookie("connect.sid", SITE)?.value;
    expect(cookie).toBeDefined();
    cookies.set(user, cookie ?? "");
  }
  await client.quit();

  // The guide's settings: connect-redis' cookie name, the same secret.
  const sessions = redisSession({ redis: redis.current.url, secret, name: "connect.sid" });
  const after = shop(sessions);
  const look = new Redis(redis.current.url);
  try {
    for (const user of users) {
      const agent = request.agent(after);
      agent.jar.setCookie(`connect.sid=${cookies.get(user) ?? ""}; Path=/`, "127.0.0.1", "/");
      const me = await agent.get("/me").expect(200);
      expect(me.body).toEqual({ user, cart: [`${user}-tea`, `${user}-milk`] });
      const added = await agent
        .post("/cart")
        .send({ item: `${user}-bread` })
        .expect(200);
      expect(added.body).toEqual({ cart: [`${user}-tea`, `${user}-milk`, `${user}-bread`] });
      const sid = decodeURIComponent(cookies.get(user) ?? "").slice(2, -44);
      expect(await look.type(`sess:${sid}`)).toBe("hash");
      // Still the cookie's day, not a new default.
      expect(await look.pttl(`sess:${sid}`)).toBeGreaterThan(86_400_000 - 60_000);
      expect((await agent.get("/me").expect(200)).body).toEqual({
        user,
        cart: [`${user}-tea`, `${user}-milk`, `${user}-bread`],
      });
    }
  } finally {
    look.disconnect();
    await sessions.store.close();
  }
});
