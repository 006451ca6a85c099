import { sign } from "cookie-signature";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { Browser } from "../../harness/Browser.js";
import { useSingleNode } from "../support/hooks.js";
import { useServer } from "../support/http.js";
import { createTestApp, TEST_SECRET } from "../../harness/app/testApp.js";

const redis = useSingleNode();
const server = useServer(() => createTestApp({ redis: redis.current.url, maxBytes: 4_096 }).app);
let client: Redis;

beforeAll(() => {
  client = new Redis(redis.current.server.port, "127.0.0.1");
});
afterAll(async () => {
  await client.quit();
});

async function loggedIn(user = "alice"): Promise<Browser> {
  const browser = new Browser();
  await browser.request(`${server.url}/login`, { method: "POST", json: { user } });
  return browser;
}

describe("cookie and session defaults", () => {
  test("an anonymous visit stores nothing and sets no cookie", async () => {
    const browser = new Browser();
    const response = await browser.request(`${server.url}/me`);
    expect(response).toMatchObject({ status: 200, body: { user: null }, setCookie: undefined });
  });

  test("logging in sets a secure-by-default sid cookie with a 192-bit id", async () => {
    const browser = new Browser();
    const response = await browser.request(`${server.url}/login`, {
      method: "POST",
      json: { user: "alice" },
    });
    expect(response.status).toBe(200);
    expect(response.setCookie).toMatch(
      /^sid=s%3A[\w-]{32}\.[^;]+; Path=\/; HttpOnly; SameSite=Lax$/,
    );
    expect(await client.exists(`sess:${browser.sessionId ?? ""}`)).toBe(1);
    expect((await browser.request(`${server.url}/me`)).body).toMatchObject({ user: "alice" });
  });

  test("rolling: every request renews the cookie", async () => {
    const browser = await loggedIn();
    const response = await browser.request(`${server.url}/me`);
    expect(response.setCookie).toMatch(/^sid=/);
  });

  test("logout deletes the session in Redis", async () => {
    const browser = await loggedIn();
    const sid = browser.sessionId ?? "";
    await browser.request(`${server.url}/logout`, { method: "POST" });
    expect(await client.exists(`sess:${sid}`)).toBe(0);
    expect((await browser.request(`${server.url}/me`)).body).toMatchObject({ user: null });
  });
});

describe("delta writes", () => {
  test("a change writes only its own field: a field written meanwhile by another instance stays", async () => {
    const browser = await loggedIn();
    const key = `sess:${browser.sessionId ?? ""}`;
    await client.hset(key, "fromElsewhere", JSON.stringify("kept"));
    await browser.request(`${server.url}/session/theme`, {
      method: "PUT",
      json: { value: "dark" },
    });
    const hash = await client.hgetall(key);
    expect(hash).toMatchObject({ user: '"alice"', theme: '"dark"', fromElsewhere: '"kept"' });
  });

  test("a change to a session renewed less than touchAfter ago writes the field and leaves the TTL", async () => {
    const browser = await loggedIn();
    const key = `sess:${browser.sessionId ?? ""}`;
    await client.pexpire(key, 60_000);
    await browser.request(`${server.url}/session/theme`, {
      method: "PUT",
      json: { value: "dark" },
    });
    expect(await client.hget(key, "theme")).toBe('"dark"');
    expect(await client.pttl(key)).toBeLessThanOrEqual(60_000);
  });

  test("deleting a key removes its field", async () => {
    const browser = await loggedIn();
    await browser.request(`${server.url}/session/theme`, {
      method: "PUT",
      json: { value: "dark" },
    });
    await browser.request(`${server.url}/session/theme`, { method: "DELETE" });
    const hash = await client.hgetall(`sess:${browser.sessionId ?? ""}`);
    expect(Object.keys(hash).sort()).toEqual(["$touched", "cookie", "user"]);
  });

  test("a per-session cookie maxAge ('remember me') sets the TTL and is kept on later renewals", async () => {
    const browser = await loggedIn();
    const key = `sess:${browser.sessionId ?? ""}`;
    const month = 30 * 86_400_000;
    await browser.request(`${server.url}/remember`, { method: "POST", json: { maxAge: month } });
    expect(await client.pttl(key)).toBeGreaterThan(month - 60_000);
    // As if the last renewal were two minutes ago (the default touchAfter is at most one).
    await client.hset(key, "$touched", Date.now() - 120_000);
    await client.pexpire(key, 60_000);
    await browser.request(`${server.url}/me`);
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
    const browser = new Browser();
    browser.cookie = `s:${sign(sid, TEST_SECRET)}`;

    expect((await browser.request(`${server.url}/me`)).body).toMatchObject({ user: "carol" });
    expect(await client.type(`sess:${sid}`)).toBe("string");

    await browser.request(`${server.url}/session/theme`, {
      method: "PUT",
      json: { value: "dark" },
    });
    expect(await client.type(`sess:${sid}`)).toBe("hash");
    const hash = await client.hgetall(`sess:${sid}`);
    expect(Object.keys(hash).sort()).toEqual(["$touched", "cart", "cookie", "theme", "user"]);
    expect(JSON.parse(hash.cart ?? "")).toEqual(["tea", "milk"]);
    const { data } = (await browser.request(`${server.url}/session`)).body as { data: unknown };
    expect(data).toEqual({ user: "carol", cart: ["tea", "milk"], theme: "dark" });
  });
});

describe("a read-only request while the clock ticks", () => {
  // express-session's touch() sets the cookie's maxAge from originalMaxAge, and the setter works
  // originalMaxAge out again from the clock: whenever the clock ticks in between, originalMaxAge
  // comes out a millisecond short. Here every reading of the clock is a millisecond later, as on
  // a slow machine.
  function tickingClock(): () => void {
    const real = Date.now.bind(Date);
    let ticks = 0;
    const spy = vi.spyOn(Date, "now").mockImplementation(() => real() + ++ticks);
    return () => spy.mockRestore();
  }

  test("leaves a connect-redis value as it is", async () => {
    const sid = "legacy-session-read-only";
    const expires = new Date(Date.now() + 86_400_000);
    const cookie = { originalMaxAge: 86_400_000, expires, httpOnly: true, path: "/" };
    await client.set(`sess:${sid}`, JSON.stringify({ cookie, user: "dora" }), "EX", 86_400);
    const browser = new Browser();
    browser.cookie = `s:${sign(sid, TEST_SECRET)}`;
    const restore = tickingClock();
    try {
      expect((await browser.request(`${server.url}/me`)).body).toMatchObject({ user: "dora" });
    } finally {
      restore();
    }
    expect(await client.type(`sess:${sid}`)).toBe("string");
  });

  test("writes nothing to a session hash", async () => {
    const browser = await loggedIn("erin");
    const key = `sess:${browser.sessionId ?? ""}`;
    // A cookie with a maxAge ("remember me"): one without has no originalMaxAge to come out short.
    await browser.request(`${server.url}/remember`, {
      method: "POST",
      json: { maxAge: 86_400_000 },
    });
    const before = await client.hgetall(key);
    const restore = tickingClock();
    try {
      expect((await browser.request(`${server.url}/me`)).body).toMatchObject({ user: "erin" });
    } finally {
      restore();
    }
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
    const attacker = new Browser();
    attacker.cookie = forge(victim.sessionId ?? "");
    const response = await attacker.request(`${server.url}/session`);
    expect(response).toMatchObject({ status: 200, body: { data: {} } });

    await attacker.request(`${server.url}/session/x`, { method: "PUT", json: { value: 1 } });
    expect(attacker.sessionId).not.toBe(victim.sessionId);
    expect((await victim.request(`${server.url}/session`)).body).toMatchObject({
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
    const sid = browser.sessionId ?? "";
    await corrupt(`sess:${sid}`);

    const response = await browser.request(`${server.url}/me`);
    expect(response).toMatchObject({ status: 200, body: { user: null } });
    await browser.request(`${server.url}/login`, { method: "POST", json: { user: "alice" } });
    expect(browser.sessionId).not.toBe(sid);
    expect((await browser.request(`${server.url}/me`)).body).toMatchObject({ user: "alice" });
  });

  test("session data that cannot be stored fails the request instead of reporting success", async () => {
    const browser = await loggedIn();
    const response = await browser.request(`${server.url}/circular`, { method: "POST" });
    expect(response.status).toBe(500);
    expect(response.body).toMatchObject({ error: "TypeError" });
    expect((await browser.request(`${server.url}/me`)).body).toMatchObject({ user: "alice" });
  });

  test("a session over maxBytes fails the request with a clear error and writes nothing", async () => {
    const browser = await loggedIn();
    const key = `sess:${browser.sessionId ?? ""}`;
    const before = await client.hgetall(key);
    const response = await browser.request(`${server.url}/session/blob`, {
      method: "PUT",
      json: { value: "x".repeat(5_000) },
    });
    expect(response.status).toBe(500);
    expect(response.body).toMatchObject({ error: "SessionTooLargeError" });
    expect((response.body as { message: string }).message).toMatch(
      /over the limit of 4096.*maxBytes/,
    );
    expect(await client.hgetall(key)).toEqual(before);
  });
});
