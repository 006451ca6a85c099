import { createHmac } from "node:crypto";
import { sign } from "cookie-signature";
import type { Cluster, Redis } from "ioredis";
import { describe, expect, test } from "vitest";
import type { UserSession } from "../../src/index.js";
import type { AppProcess } from "../../harness/AppProcess.js";
import { Browser } from "../../harness/Browser.js";
import { useAppProcesses, useCluster, useSentinel } from "../support/hooks.js";
import { useServer } from "../support/http.js";
import { createTestApp, TEST_SECRET } from "../../harness/app/testApp.js";

// The session helpers on both replicated topologies: a Sentinel master with replicas, and a
// Cluster of 3 shards (a master and a replica each), where a user's index goes by the hash tag
// the ids login() issues there start with.
describe.each(["Sentinel", "Cluster"] as const)("on %s", (topology) => {
  const redis =
    topology === "Sentinel" ? useSentinel() : useCluster({ masters: 3, replicasPerMaster: 1 });
  let apps: [AppProcess, AppProcess];
  let master: Redis | Cluster;

  useAppProcesses(redis, (started) => {
    ({ apps, master } = started);
  });

  /** The key of the user's index: `sess:user:<id>`, on a Cluster behind the user's hash tag. */
  async function indexOf(user: string): Promise<string> {
    if (topology === "Sentinel") return `sess:user:${user}`;
    const key = (await master.hget("sess:user-tag-key", "key")) ?? "";
    const tag = createHmac("sha256", key).update(user).digest("base64url").slice(0, 2);
    return `sess:{${tag}}user:${user}`;
  }

  async function loginAs(browser: Browser, user: string, url = apps[0].url) {
    const response = await browser.request(`${url}/auth/login`, { method: "POST", json: { user } });
    expect(response.status).toBe(200);
    return response;
  }

  describe("login", () => {
    test("gives the session a new id, destroys the old one, and carries the chosen keys over", async () => {
      const browser = new Browser();
      await browser.request(`${apps[0].url}/cart`, { method: "POST", json: { item: "tea" } });
      await browser.request(`${apps[0].url}/session/cart`, {
        method: "PUT",
        json: { value: ["tea"] },
      });
      await browser.request(`${apps[0].url}/session/note`, { method: "PUT", json: { value: "x" } });
      const before = browser.cookie;
      const anonymousId = browser.sessionId ?? "";
      expect(await master.exists(`sess:${anonymousId}`)).toBe(1);

      await loginAs(browser, "alice");
      expect(browser.cookie).not.toBe(before);
      expect(await master.exists(`sess:${anonymousId}`)).toBe(0);
      const { data } = (await browser.request(`${apps[1].url}/session`)).body as {
        data: Record<string, unknown>;
      };
      expect(data).toMatchObject({ user: { id: "alice", name: "alice" }, cart: ["tea"] });
      expect(data.note).toBeUndefined();

      // Whoever kept the pre-login cookie (a fixation attacker) holds nothing.
      const attacker = new Browser();
      attacker.cookie = before;
      expect((await attacker.request(`${apps[1].url}/me`)).body).toMatchObject({ user: null });
    });
  });

  describe("logout", () => {
    test("while 10 slow requests of the session are in flight: none of them brings it back", async () => {
      const browser = new Browser();
      await loginAs(browser, "bob");
      const sid = browser.sessionId ?? "";
      // Those requests carry the same cookie.
      const slow = Array.from({ length: 10 }, async (_, i) => {
        const other = new Browser();
        other.cookie = browser.cookie;
        return other.request(`${apps[i % 2 === 0 ? 0 : 1].url}/slow/key${i}?ms=600`, {
          method: "PUT",
        });
      });
      await new Promise((resolve) => setTimeout(resolve, 150));
      const logout = await browser.request(`${apps[1].url}/auth/logout`, { method: "POST" });
      expect(logout.status).toBe(200);
      const finished = await Promise.all(slow);
      expect(finished.map((response) => response.status)).toEqual(finished.map(() => 200));

      expect(await master.exists(`sess:${sid}`)).toBe(0);
      expect(await master.sismember(await indexOf("bob"), sid)).toBe(0);
      const after = new Browser();
      after.cookie = browser.cookie;
      expect((await after.request(`${apps[0].url}/me`)).body).toMatchObject({ user: null });
    });
  });

  describe("logoutEverywhere", () => {
    test("ends the user's sessions on 3 devices across 2 app processes", async () => {
      const devices = [new Browser(), new Browser(), new Browser()];
      // A real browser's user agent is over 64 bytes: stored in the session's $pack.
      const chrome =
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
      if (devices[0] !== undefined) devices[0].userAgent = chrome;
      for (const [i, device] of devices.entries()) {
        await loginAs(device, "carol", (i % 2 === 0 ? apps[0] : apps[1]).url);
      }
      const bystander = new Browser();
      await loginAs(bystander, "dave");

      const listed = (await bystander.request(`${apps[1].url}/auth/sessions/carol`)).body as {
        sessions: UserSession[];
      };
      expect(listed.sessions.map((session) => session.id).sort()).toEqual(
        devices.map((device) => device.sessionId).sort(),
      );
      for (const session of listed.sessions) {
        expect(Date.parse(String(session.createdAt))).toBeGreaterThan(Date.now() - 60_000);
        expect(Date.parse(String(session.lastSeenAt))).toBeGreaterThan(Date.now() - 60_000);
        expect(session.userAgent).toEqual(expect.any(String));
      }
      expect(listed.sessions.find((session) => session.id === devices[0]?.sessionId)).toMatchObject(
        { userAgent: chrome },
      );

      const ended = await devices[0]?.request(`${apps[1].url}/auth/logout-all`, { method: "POST" });
      expect(ended?.body).toMatchObject({ ended: 3 });
      for (const device of devices) {
        expect((await device.request(`${apps[0].url}/me`)).body).toMatchObject({ user: null });
        expect((await device.request(`${apps[1].url}/me`)).body).toMatchObject({ user: null });
      }
      const after = (await bystander.request(`${apps[0].url}/auth/sessions/carol`)).body as {
        sessions: UserSession[];
      };
      expect(after.sessions).toEqual([]);
      expect((await bystander.request(`${apps[0].url}/me`)).body).toMatchObject({
        user: { id: "dave" },
      });
    });

    test("a session that expired is pruned from its user's index", async () => {
      const device = new Browser();
      await loginAs(device, "erin");
      await master.del(`sess:${device.sessionId ?? ""}`);
      const listed = (await device.request(`${apps[0].url}/auth/sessions/erin`)).body as {
        sessions: UserSession[];
      };
      expect(listed.sessions).toEqual([]);
      expect(await master.scard(await indexOf("erin"))).toBe(0);
    });

    test("the user index lives as long as the longest of its sessions, renewed with them", async () => {
      const device = new Browser();
      await loginAs(device, "frank");
      await master.pexpire(await indexOf("frank"), 1_000);
      // As if the session's last renewal were two minutes ago: the next read renews it, and the index.
      await master.hset(`sess:${device.sessionId ?? ""}`, "$touched", Date.now() - 120_000);
      await device.request(`${apps[0].url}/me`);
      expect(await master.pttl(await indexOf("frank"))).toBeGreaterThan(86_000_000);
    });
  });

  describe("secret rotation", () => {
    const newSecret = "a-new-secret-that-is-at-least-32-characters";
    const rotating = useServer(
      () =>
        createTestApp({ redis: redis.current.redisOption, secret: [newSecret, TEST_SECRET] }).app,
    );
    const newOnly = useServer(
      () => createTestApp({ redis: redis.current.redisOption, secret: newSecret }).app,
    );

    test("a cookie signed with the old secret is accepted while it is listed second", async () => {
      const browser = new Browser();
      await loginAs(browser, "grace");
      const oldCookie = browser.cookie;
      expect(oldCookie?.startsWith(`s:${sign(browser.sessionId ?? "", TEST_SECRET)}`)).toBe(true);

      const dropped = new Browser();
      dropped.cookie = oldCookie;
      expect((await dropped.request(`${newOnly.url}/me`)).body).toMatchObject({ user: null });

      expect((await browser.request(`${rotating.url}/me`)).body).toMatchObject({
        user: { id: "grace" },
      });
      // The rotating app re-signs the cookie with the new secret, which alone then suffices.
      expect(browser.cookie).not.toBe(oldCookie);
      expect((await browser.request(`${newOnly.url}/me`)).body).toMatchObject({
        user: { id: "grace" },
      });
    });
  });
});
