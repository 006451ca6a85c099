import { setTimeout as delay } from "node:timers/promises";
import { sign } from "cookie-signature";
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { useCluster, useSingleNode } from "../support/hooks.js";
import {
  agentOn,
  sessionIdOf,
  sessionSetCookie,
  setSessionCookie,
  useApp,
} from "../support/agent.js";
import type TestAgent from "supertest/lib/agent.js";
import { createTestApp, TEST_SECRET } from "../../harness/app/testApp.js";

// express-session's maxAge setter works originalMaxAge out from the clock, read twice: whenever the
// clock ticks in between, originalMaxAge comes out a millisecond short (touch() sets maxAge from
// originalMaxAge, so it drifts there too). Here every reading of the clock is a millisecond later,
// as on a slow machine, while `act` runs.
async function onTickingClock<T>(act: () => Promise<T>): Promise<T> {
  const real = Date.now.bind(Date);
  let ticks = 0;
  const spy = vi.spyOn(Date, "now").mockImplementation(() => real() + ++ticks);
  try {
    return await act();
  } finally {
    spy.mockRestore();
  }
}

// The middleware on a single node, and on a Cluster of 3 shards (a master and a replica each).
describe.each(["a single node", "a Cluster"] as const)("on %s", (topology) => {
  const single = topology === "a single node" ? useSingleNode() : undefined;
  const cluster =
    single === undefined ? useCluster({ masters: 3, replicasPerMaster: 1 }) : undefined;
  const redisOption = () => single?.current.url ?? cluster?.current.redisOption ?? "";
  const server = useApp(() => createTestApp({ redis: redisOption(), maxBytes: 4_096 }).app);
  let client: Redis | Cluster;

  beforeAll(() => {
    client = single
      ? new Redis(single.current.server.port, "127.0.0.1")
      : new Cluster(cluster?.current.redisOption.cluster ?? []);
  });
  afterAll(async () => {
    await client.quit();
  });

  async function loggedIn(user = "alice"): Promise<TestAgent> {
    const browser = agentOn(server.app);
    await browser.post("/login").send({ user });
    return browser;
  }

  describe("cookie and session defaults", () => {
    test("an anonymous visit stores nothing and sets no cookie", async () => {
      const browser = agentOn(server.app);
      const response = await browser.get("/me");
      expect(response).toMatchObject({ status: 200, body: { user: null } });
      expect(sessionSetCookie(response)).toBeUndefined();
    });

    test("logging in sets a secure-by-default sid cookie with a 192-bit id", async () => {
      const browser = agentOn(server.app);
      const response = await browser.post("/login").send({ user: "alice" });
      expect(response.status).toBe(200);
      expect(sessionSetCookie(response)).toMatch(
        /^sid=s%3A[\w-]{32}\.[^;]+; Path=\/; HttpOnly; SameSite=Lax$/,
      );
      expect(await client.exists(`sess:${sessionIdOf(browser) ?? ""}`)).toBe(1);
      expect((await browser.get("/me")).body).toMatchObject({ user: "alice" });
    });

    test("the stored cookie holds only what differs from the middleware's cookie settings", async () => {
      const browser = await loggedIn();
      const key = `sess:${sessionIdOf(browser) ?? ""}`;
      // Path, HttpOnly, SameSite=Lax and secure "auto" are redisSession's: nothing but the max-age.
      expect(await client.hget(key, "cookie")).toBe('{"originalMaxAge":null}');
      // Stored as the session had it: a millisecond or so short of the maxAge set on a ticking clock.
      const remembered = await onTickingClock(() =>
        browser.post("/remember").send({ maxAge: 3_600_000 }),
      );
      const { originalMaxAge } = remembered.body as { originalMaxAge: number };
      expect(3_600_000 - originalMaxAge).toBeGreaterThan(0);
      expect(3_600_000 - originalMaxAge).toBeLessThan(1_000);
      await browser.post("/strict");
      expect(JSON.parse((await client.hget(key, "cookie")) ?? "")).toEqual({
        originalMaxAge,
        sameSite: "strict",
      });
      const response = await browser.get("/me");
      expect(sessionSetCookie(response)).toMatch(
        /; Path=\/; Expires=.*; HttpOnly; SameSite=Strict$/,
      );
    });

    test("rolling: every request renews the cookie", async () => {
      const browser = await loggedIn();
      const response = await browser.get("/me");
      expect(sessionSetCookie(response)).toMatch(/^sid=/);
    });

    test("logout deletes the session in Redis", async () => {
      const browser = await loggedIn();
      const sid = sessionIdOf(browser) ?? "";
      await browser.post("/logout");
      expect(await client.exists(`sess:${sid}`)).toBe(0);
      expect((await browser.get("/me")).body).toMatchObject({ user: null });
    });
  });

  describe("delta writes", () => {
    test("a change writes only its own field: a field written meanwhile by another instance stays", async () => {
      const browser = await loggedIn();
      const key = `sess:${sessionIdOf(browser) ?? ""}`;
      await client.hset(key, "fromElsewhere", JSON.stringify("kept"));
      await browser.put("/session/theme").send({ value: "dark" });
      const hash = await client.hgetall(key);
      expect(hash).toMatchObject({ user: '"alice"', theme: '"dark"', fromElsewhere: '"kept"' });
    });

    test("a change to a session renewed less than touchAfter ago writes the field and leaves the TTL", async () => {
      const browser = await loggedIn();
      const key = `sess:${sessionIdOf(browser) ?? ""}`;
      await client.pexpire(key, 60_000);
      await browser.put("/session/theme").send({ value: "dark" });
      expect(await client.hget(key, "theme")).toBe('"dark"');
      expect(await client.pttl(key)).toBeLessThanOrEqual(60_000);
    });

    test("deleting a key removes its field", async () => {
      const browser = await loggedIn();
      await browser.put("/session/theme").send({ value: "dark" });
      await browser.delete("/session/theme");
      const hash = await client.hgetall(`sess:${sessionIdOf(browser) ?? ""}`);
      expect(Object.keys(hash).sort()).toEqual(["$touched", "cookie", "user"]);
    });

    test("keys whose JSON is over 64 bytes share one $pack field; changes to them merge, and one that shrinks or is deleted leaves it", async () => {
      const browser = await loggedIn();
      const key = `sess:${sessionIdOf(browser) ?? ""}`;
      const long = (tag: string) => `${tag}:${"x".repeat(80)}`;
      await browser.put("/session/a").send({ value: long("a1") });
      await browser.put("/session/small").send({ value: "s" });
      expect(Object.keys(await client.hgetall(key)).sort()).toEqual([
        "$pack",
        "$touched",
        "cookie",
        "small",
        "user",
      ]);
      // A request that read the session before b was added writes c meanwhile: all stay.
      const slow = browser.put(`/slow/c?ms=300&value=${long("c1")}`);
      await delay(100);
      await browser.put("/session/b").send({ value: long("b1") });
      await browser.put("/session/a").send({ value: long("a2") });
      await slow;
      const read = async () => ((await browser.get("/session")).body as { data: object }).data;
      expect(await read()).toEqual({
        user: "alice",
        a: long("a2"),
        small: "s",
        b: long("b1"),
        c: long("c1"),
      });
      // a shrinks: a field of its own again; b and c deleted: the pack is empty, and gone.
      await browser.put("/session/a").send({ value: "short" });
      await browser.delete("/session/b");
      await browser.delete("/session/c");
      expect(await read()).toEqual({ user: "alice", a: "short", small: "s" });
      expect(Object.keys(await client.hgetall(key)).sort()).toEqual([
        "$touched",
        "a",
        "cookie",
        "small",
        "user",
      ]);
    });

    test("a per-session cookie maxAge ('remember me') sets the TTL and is kept on later renewals", async () => {
      const browser = await loggedIn();
      const key = `sess:${sessionIdOf(browser) ?? ""}`;
      const month = 30 * 86_400_000;
      await browser.post("/remember").send({ maxAge: month });
      expect(await client.pttl(key)).toBeGreaterThan(month - 60_000);
      // As if the last renewal were two minutes ago (the default touchAfter is at most one).
      await client.hset(key, "$touched", Date.now() - 120_000);
      await client.pexpire(key, 60_000);
      await browser.get("/me");
      expect(await client.pttl(key)).toBeGreaterThan(month - 60_000);
    });
  });

  describe("sessions written by connect-redis", () => {
    test("are read, and stored as a hash with all their data after one change", async () => {
      const sid = "legacy-session-id";
      const legacy = {
        cookie: {
          originalMaxAge: 86_400_000,
          expires: new Date(Date.now() + 86_400_000),
          httpOnly: true,
          path: "/",
        },
        user: "carol",
        cart: ["tea", "milk"],
      };
      await client.set(`sess:${sid}`, JSON.stringify(legacy), "EX", 86_400);
      const browser = agentOn(server.app);
      setSessionCookie(browser, `s:${sign(sid, TEST_SECRET)}`);

      expect((await browser.get("/me")).body).toMatchObject({ user: "carol" });
      expect(await client.type(`sess:${sid}`)).toBe("string");

      await browser.put("/session/theme").send({ value: "dark" });
      expect(await client.type(`sess:${sid}`)).toBe("hash");
      const hash = await client.hgetall(`sess:${sid}`);
      expect(Object.keys(hash).sort()).toEqual(["$touched", "cart", "cookie", "theme", "user"]);
      expect(JSON.parse(hash.cart ?? "")).toEqual(["tea", "milk"]);
      const { data } = (await browser.get("/session")).body as { data: unknown };
      expect(data).toEqual({ user: "carol", cart: ["tea", "milk"], theme: "dark" });
    });
  });

  describe("a read-only request while the clock ticks", () => {
    test("leaves a connect-redis value as it is", async () => {
      const sid = "legacy-session-read-only";
      const expires = new Date(Date.now() + 86_400_000);
      const cookie = { originalMaxAge: 86_400_000, expires, httpOnly: true, path: "/" };
      await client.set(`sess:${sid}`, JSON.stringify({ cookie, user: "dora" }), "EX", 86_400);
      const browser = agentOn(server.app);
      setSessionCookie(browser, `s:${sign(sid, TEST_SECRET)}`);
      const response = await onTickingClock(() => browser.get("/me"));
      expect(response.body).toMatchObject({ user: "dora" });
      expect(await client.type(`sess:${sid}`)).toBe("string");
    });

    test("writes nothing to a session hash", async () => {
      const browser = await loggedIn("erin");
      const key = `sess:${sessionIdOf(browser) ?? ""}`;
      // A cookie with a maxAge ("remember me"): one without has no originalMaxAge to come out short.
      await browser.post("/remember").send({ maxAge: 86_400_000 });
      const before = await client.hgetall(key);
      const response = await onTickingClock(() => browser.get("/me"));
      expect(response.body).toMatchObject({ user: "erin" });
      expect(await client.hgetall(key)).toEqual(before);
    });
  });

  describe("bad input", () => {
    test.each([
      ["a tampered signature", (sid: string) => `s:${sid}.forged-signature`],
      [
        "a signature by another secret",
        (sid: string) => `s:${sign(sid, "another-secret-of-at-least-32-characters")}`,
      ],
      ["an unsigned id", (sid: string) => sid],
      ["garbage", () => "%%%\u0000<script>"],
    ])("%s in the cookie gives a fresh anonymous session", async (_what, forge) => {
      const victim = await loggedIn("victim");
      const attacker = agentOn(server.app);
      setSessionCookie(attacker, forge(sessionIdOf(victim) ?? ""));
      const response = await attacker.get("/session");
      expect(response).toMatchObject({ status: 200, body: { data: {} } });

      await attacker.put("/session/x").send({ value: 1 });
      expect(sessionIdOf(attacker)).not.toBe(sessionIdOf(victim));
      expect((await victim.get("/session")).body).toMatchObject({
        data: { user: "victim" },
      });
    });

    test.each([
      ["a field that is not JSON", (key: string) => client.hset(key, "user", "{not json")],
      [
        "a list",
        async (key: string) => {
          await client.del(key);
          await client.rpush(key, "x");
        },
      ],
      [
        "a plain string",
        async (key: string) => {
          await client.del(key);
          await client.set(key, "garbage");
        },
      ],
    ])("a session key holding %s is treated as no session", async (_what, corrupt) => {
      const browser = await loggedIn();
      const sid = sessionIdOf(browser) ?? "";
      await corrupt(`sess:${sid}`);

      const response = await browser.get("/me");
      expect(response).toMatchObject({ status: 200, body: { user: null } });
      await browser.post("/login").send({ user: "alice" });
      expect(sessionIdOf(browser)).not.toBe(sid);
      expect((await browser.get("/me")).body).toMatchObject({ user: "alice" });
    });

    test("session data that cannot be stored fails the request instead of reporting success", async () => {
      const browser = await loggedIn();
      const response = await browser.post("/circular");
      expect(response.status).toBe(500);
      expect(response.body).toMatchObject({ error: "TypeError" });
      expect((await browser.get("/me")).body).toMatchObject({ user: "alice" });
    });

    test("a session over maxBytes fails the request with a clear error and writes nothing", async () => {
      const browser = await loggedIn();
      const key = `sess:${sessionIdOf(browser) ?? ""}`;
      const before = await client.hgetall(key);
      const response = await browser.put("/session/blob").send({ value: "x".repeat(5_000) });
      expect(response.status).toBe(500);
      expect(response.body).toMatchObject({ error: "SessionTooLargeError" });
      expect((response.body as { message: string }).message).toMatch(
        /over the limit of 4096.*maxBytes/,
      );
      expect(await client.hgetall(key)).toEqual(before);
    });
  });
});
