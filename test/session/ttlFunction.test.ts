import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestApp } from "../../harness/app/testApp.js";
import { RedisSessionStore } from "../../src/index.js";
import { call } from "../support/call.js";
import { agentOn, sessionIdOf, useApp } from "../support/agent.js";
import { useSingleNode } from "../support/hooks.js";
import type { SessionData } from "express-session";

// `ttl` as a function of the session (connect-redis' form): guests an hour, users a month.
const HOUR = 3_600;
const MONTH = 30 * 86_400;
const ttl = (session: SessionData) => (session.user === undefined ? HOUR : MONTH);
const redis = useSingleNode();
const byDefault = useApp(() => createTestApp({ redis: redis.current.url, ttl }).app);
const renewingOnRead = useApp(
  () => createTestApp({ redis: redis.current.url, ttl, touchAfter: 0, prefix: "t0:" }).app,
);
let client: Redis;

beforeAll(() => {
  client = new Redis(redis.current.url);
});
afterAll(async () => {
  await client.quit();
});

/** The key's TTL, in seconds, rounded up. */
const ttlOf = async (key: string) => Math.ceil((await client.pttl(key)) / 1_000);

describe("`ttl` as a function of the session", () => {
  test("sets each session's TTL from the session: a guest's an hour, after login a month", async () => {
    const browser = agentOn(byDefault.app);
    await browser.put("/session/theme").send({ value: "dark" });
    const key = `sess:${sessionIdOf(browser) ?? ""}`;
    expect(await ttlOf(key)).toBeGreaterThan(HOUR - 60);
    expect(await ttlOf(key)).toBeLessThanOrEqual(HOUR);
    await browser.post("/login").send({ user: "alice" });
    expect(await ttlOf(key)).toBeGreaterThan(MONTH - 60);
  });

  test.each([
    ["when due (touchAfter default)", byDefault, "sess:"],
    ["on every read (touchAfter 0)", renewingOnRead, "t0:"],
  ])("renews a read session's TTL with the function's value, %s", async (_, server, prefix) => {
    const browser = agentOn(server.app);
    await browser.post("/login").send({ user: "bob" });
    const key = `${prefix}${sessionIdOf(browser) ?? ""}`;
    // As if the last renewal were two minutes ago, with a minute left.
    await client.hset(key, "$touched", Date.now() - 120_000);
    await client.pexpire(key, 60_000);
    expect((await browser.get("/me")).body).toMatchObject({ user: "bob" });
    expect(await ttlOf(key)).toBeGreaterThan(MONTH - 60);
  });

  test("sessionsOf tells when each session was last renewed", async () => {
    const browser = agentOn(byDefault.app);
    const before = Date.now();
    await browser.post("/auth/login").send({ user: "carol" });
    const { sessions } = (await browser.get("/auth/sessions/carol")).body as {
      sessions: { lastSeenAt?: string }[];
    };
    expect(sessions).toHaveLength(1);
    const seen = Date.parse(sessions[0]?.lastSeenAt ?? "");
    expect(seen).toBeGreaterThanOrEqual(before - 1_000);
    expect(seen).toBeLessThanOrEqual(Date.now());
  });

  test("a function that returns no positive number of seconds: the write fails naming `ttl`, nothing stored", async () => {
    const store = new RedisSessionStore({
      redis: redis.current.url,
      prefix: "bad:",
      ttl: () => Number.NaN,
    });
    try {
      const session = JSON.parse('{"cookie":{"originalMaxAge":null},"user":"dave"}') as SessionData;
      const failed = await call((done) => store.set("s1", session, done)).catch(
        (error: unknown) => error,
      );
      expect(failed).toBeInstanceOf(TypeError);
      expect(String(failed)).toMatch(
        /`ttl` returned NaN for a session: it must return a positive number of seconds/,
      );
      expect(await client.exists("bad:s1")).toBe(0);
    } finally {
      await store.close();
    }
  });
});
