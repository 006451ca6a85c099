import type { Redis } from "ioredis";
import { describe, expect, test } from "vitest";
import type { AppProcess } from "../../harness/AppProcess.js";
import { Browser } from "../../harness/Browser.js";
import { useAppProcesses, useSentinel } from "../support/hooks.js";

// Two instances of the app in their own processes, on one Sentinel-managed Redis: what a user of
// a load-balanced deployment sees when consecutive requests land on different instances.
const redis = useSentinel();
let apps: [AppProcess, AppProcess];
let master: Redis;

useAppProcesses(redis, (started) => {
  apps = started.apps;
  // A Sentinel topology: a connection to its master.
  master = started.master as Redis;
});

describe("two app processes on one Sentinel topology", () => {
  test("a login on one instance is recognised by the other; a logout on either ends both", async () => {
    const [a, b] = apps;
    const browser = new Browser();
    const login = await browser.request(`${a.url}/login`, {
      method: "POST",
      json: { user: "alice" },
    });
    expect(login.body).toEqual({ instance: "app-a", user: "alice" });

    expect((await browser.request(`${b.url}/me`)).body).toEqual({
      instance: "app-b",
      user: "alice",
    });

    await browser.request(`${b.url}/logout`, { method: "POST" });
    expect((await browser.request(`${a.url}/me`)).body).toEqual({ instance: "app-a", user: null });
    expect((await browser.request(`${b.url}/me`)).body).toEqual({ instance: "app-b", user: null });
  });

  test("50 concurrent requests over both instances, each setting its own key: all 50 are kept", async () => {
    const browser = new Browser();
    await browser.request(`${apps[0].url}/login`, { method: "POST", json: { user: "bob" } });
    const keys = Array.from({ length: 50 }, (_, i) => `item${i}`);
    const responses = await Promise.all(
      keys.map((key, i) =>
        browser.request(`${(i % 2 === 0 ? apps[0] : apps[1]).url}/session/${key}`, {
          method: "PUT",
          json: { value: i },
        }),
      ),
    );
    expect(responses.map((response) => response.status)).toEqual(keys.map(() => 200));

    const { data } = (await browser.request(`${apps[1].url}/session`)).body as {
      data: Record<string, unknown>;
    };
    expect(
      Object.keys(data)
        .filter((key) => key.startsWith("item"))
        .sort(),
    ).toEqual([...keys].sort());
    expect(data.user).toBe("bob");
  });

  test("an authenticated request that does not change the session costs 1 command on the master", async () => {
    const browser = new Browser();
    await browser.request(`${apps[0].url}/login`, { method: "POST", json: { user: "carol" } });

    const before = await commandCalls();
    for (let i = 0; i < 100; i++) {
      const response = await browser.request(`${apps[0].url}/me`);
      expect(response.body).toMatchObject({ user: "carol" });
    }
    const delta = diff(await commandCalls(), before);

    // INFO commandstats also counts the heartbeats of Sentinels and replicas; set those apart.
    const heartbeats = ["ping", "info", "publish", "replconf"];
    const fromApp = [...delta].filter(([name]) => !heartbeats.includes(name));
    const sent = fromApp.reduce((sum, [, calls]) => sum + calls, 0);
    console.log(
      `commands the app sent for 100 requests: ${JSON.stringify(Object.fromEntries(fromApp))}`,
    );
    // The login renewed the TTL just now, so no read is due to renew it: one HGETALL each.
    expect(Object.fromEntries(fromApp)).toEqual({ hgetall: 100 });
    expect(sent / 100).toBe(1);
  });

  test("a read once touchAfter has passed renews the TTL with one more command", async () => {
    const browser = new Browser();
    await browser.request(`${apps[0].url}/login`, { method: "POST", json: { user: "erin" } });
    const key = `sess:${browser.sessionId ?? ""}`;
    // As if the last renewal were two minutes ago (the default touchAfter is at most one).
    await master.hset(key, "$touched", Date.now() - 120_000);
    await master.pexpire(key, 5_000);

    const before = await commandCalls();
    await browser.request(`${apps[0].url}/me`);
    await browser.request(`${apps[0].url}/me`);
    const delta = diff(await commandCalls(), before);
    const heartbeats = ["ping", "info", "publish", "replconf"];
    const insideRenewScript = ["pexpire", "hset", "hget"];
    const fromApp = [...delta].filter(
      ([name]) => !heartbeats.includes(name) && !insideRenewScript.includes(name),
    );
    // The first read renews (its script may be loaded first); the second finds it fresh.
    expect(Object.fromEntries(fromApp)).toMatchObject({ hgetall: 2 });
    expect((delta.get("evalsha") ?? 0) + (delta.get("eval") ?? 0)).toBe(1);
    expect(await master.pttl(key)).toBeGreaterThan(86_000_000);
  });
});

test("a request that changes the session costs one more: the write and its WAIT, pipelined", async () => {
  const browser = new Browser();
  await browser.request(`${apps[0].url}/login`, { method: "POST", json: { user: "dave" } });
  await browser.request(`${apps[0].url}/session/n`, { method: "PUT", json: { value: -1 } });

  const before = await commandCalls();
  for (let i = 0; i < 100; i++) {
    const response = await browser.request(`${apps[0].url}/session/n`, {
      method: "PUT",
      json: { value: i },
    });
    expect(response.status).toBe(200);
  }
  const delta = diff(await commandCalls(), before);
  const heartbeats = ["ping", "info", "publish", "replconf"];
  const insideScripts = ["time", "pexpire", "exists", "hset", "hget"];
  const fromApp = [...delta].filter(
    ([name]) => !heartbeats.includes(name) && !insideScripts.includes(name),
  );
  // 100 reads (HGETALL) + 100 writes (a script), each write followed by WAIT for the replica in one
  // pipeline.
  expect(Object.fromEntries(fromApp)).toEqual({ hgetall: 100, evalsha: 100, wait: 100 });
});

/** Calls per command on the master, read over the test's open connection (no handshake). */
async function commandCalls(): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const [, name, count] of (await master.info("commandstats")).matchAll(
    /^cmdstat_([^:]+):calls=(\d+)/gm,
  )) {
    calls.set(name ?? "", Number(count));
  }
  return calls;
}

function diff(after: Map<string, number>, before: Map<string, number>): Map<string, number> {
  const delta = new Map<string, number>();
  for (const [name, calls] of after) {
    const change = calls - (before.get(name) ?? 0);
    if (change !== 0) delta.set(name, change);
  }
  return delta;
}
