import { setTimeout as delay } from "node:timers/promises";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { RedisSessionStore } from "../../src/index.js";
import { Browser } from "../../harness/Browser.js";
import { useSentinel } from "../support/hooks.js";
import { useServer } from "../support/http.js";
import { createTestApp } from "../../harness/app/testApp.js";

// A master with 2 replicas. Writes are acknowledged only once enough replicas confirm them.
const redis = useSentinel();
const waitMs = 1_500;
const stores: Record<"two" | "three", RedisSessionStore | undefined> = {
  two: undefined,
  three: undefined,
};
const twoReplicas = useServer(() => {
  const { app, sessions } = createTestApp({
    redis: redis.current.redisOption,
    durability: { replicas: 2, whenFewer: "refuse" },
  });
  stores.two = sessions.store;
  return app;
});
const threeReplicas = useServer(() => {
  const { app, sessions } = createTestApp({
    redis: redis.current.redisOption,
    durability: { replicas: 3, timeoutMs: 200, whenFewer: "refuse" },
    unavailable: { waitMs, retryAfterSeconds: 2 },
  });
  stores.three = sessions.store;
  return app;
});
let master: Redis;

beforeAll(async () => {
  master = new Redis((await redis.current.currentMaster()).port, "127.0.0.1");
});
afterAll(async () => {
  await master.config("SET", "min-replicas-to-write", "0");
  await master.quit();
});

describe("durable writes", () => {
  test("a write that the required replicas confirm is acknowledged", async () => {
    const browser = new Browser();
    const login = await browser.request(`${twoReplicas.url}/login`, {
      method: "POST",
      json: { user: "alice" },
    });
    expect(login.status).toBe(200);
    expect((await browser.request(`${twoReplicas.url}/me`)).body).toMatchObject({ user: "alice" });
  });

  test("writes committed together keep multi-byte text byte for byte", async () => {
    // Ten logins in one turn of the event loop share one script call; their values count bytes,
    // not characters, in the command sent.
    const users = Array.from({ length: 10 }, (_, i) => `zoë ☕ 日本 🙂 ${i}`);
    const browsers = users.map(() => new Browser());
    const logins = await Promise.all(
      browsers.map((browser, i) =>
        browser.request(`${twoReplicas.url}/login`, { method: "POST", json: { user: users[i] } }),
      ),
    );
    expect(logins.map(({ status }) => status)).toEqual(users.map(() => 200));
    for (const [i, browser] of browsers.entries()) {
      expect((await browser.request(`${twoReplicas.url}/me`)).body).toMatchObject({
        user: users[i],
      });
    }
  });

  test("a write fewer replicas confirm is not acknowledged: 503, Retry-After, no cookie", async () => {
    const browser = new Browser();
    const started = performance.now();
    const login = await browser.request(`${threeReplicas.url}/login`, {
      method: "POST",
      json: { user: "bob" },
    });
    const elapsed = performance.now() - started;
    expect(login.status).toBe(503);
    expect(login.headers.get("retry-after")).toBe("2");
    expect(login.setCookie).toBeUndefined();
    expect(login.body).toMatchObject({ error: "session_store_unavailable" });
    // WAIT was repeated until the wait bound, not given up after one timeoutMs.
    expect(elapsed).toBeGreaterThan(waitMs - 200);
  });

  test("a route that saves the session itself and passes the error on is answered 503 within the wait bound", async () => {
    const browser = new Browser();
    await browser.request(`${twoReplicas.url}/login`, { method: "POST", json: { user: "dave" } });
    const started = performance.now();
    const response = await browser.request(`${threeReplicas.url}/save-itself/theme`, {
      method: "PUT",
      json: { value: "dark" },
    });
    const elapsed = performance.now() - started;
    // Not the error handler's 500, and not a second wait for a second save of the same change.
    expect(response.status).toBe(503);
    expect(response.body).toMatchObject({ error: "session_store_unavailable" });
    expect(elapsed).toBeLessThan(waitMs + 500);
    expect((await browser.request(`${twoReplicas.url}/session`)).body).toMatchObject({
      data: { user: "dave" },
    });
  });

  test("a request whose session read waited for Redis has only the rest of the wait bound for its write", async () => {
    const browser = new Browser();
    await browser.request(`${twoReplicas.url}/login`, { method: "POST", json: { user: "frank" } });
    // The master answers nothing for 1 s: the request's read waits that long.
    await master.call("CLIENT", "PAUSE", "1000", "ALL");
    const started = performance.now();
    const response = await browser.request(`${threeReplicas.url}/session/theme`, {
      method: "PUT",
      json: { value: "dark" },
    });
    const elapsed = performance.now() - started;
    expect(response.status).toBe(503);
    // Read and write together within the bound (each on its own would take 1 s + 1.5 s).
    expect(elapsed).toBeGreaterThan(waitMs - 200);
    expect(elapsed).toBeLessThan(waitMs + 500);
  });

  test("a write after the server's script cache was flushed loads the script again and succeeds", async () => {
    const browser = new Browser();
    await browser.request(`${twoReplicas.url}/login`, { method: "POST", json: { user: "erin" } });
    await master.script("FLUSH");
    const response = await browser.request(`${twoReplicas.url}/session/theme`, {
      method: "PUT",
      json: { value: "light" },
    });
    expect(response.status).toBe(200);
    expect((await browser.request(`${twoReplicas.url}/session`)).body).toMatchObject({
      data: { user: "erin", theme: "light" },
    });
  });

  test("NOREPLICAS is waited out within the bound", async () => {
    const browser = new Browser();
    await browser.request(`${twoReplicas.url}/login`, { method: "POST", json: { user: "carol" } });
    const refusedBefore = await noReplicasErrors();
    await master.config("SET", "min-replicas-to-write", "3");
    const pending = browser.request(`${twoReplicas.url}/session/theme`, {
      method: "PUT",
      json: { value: "dark" },
    });
    await delay(500);
    await master.config("SET", "min-replicas-to-write", "0");
    const response = await pending;
    expect(response.status).toBe(200);
    expect(await noReplicasErrors()).toBeGreaterThan(refusedBefore);
    expect((await browser.request(`${twoReplicas.url}/session`)).body).toMatchObject({
      data: { user: "carol", theme: "dark" },
    });
  });
});

describe("store.stats()", () => {
  test("counts what the users above met: batches and WAIT time, 503s, retries", () => {
    const two = stores.two?.stats();
    const three = stores.three?.stats();
    // Every write of the app asking for 2 replicas went out in a batch and was confirmed.
    expect(two?.writeBatchSize.count).toBeGreaterThan(0);
    expect(two?.writeBatchSize.sum).toBeGreaterThanOrEqual(two?.writeBatchSize.count ?? Infinity);
    expect(two?.waitLatencyMs.count).toBe(two?.writeBatchSize.count);
    expect(two?.notDurable).toBe(0);
    // NOREPLICAS was retried until the replicas were back.
    expect(two?.retries).toBeGreaterThan(0);
    // The app asking for 3 of 2 replicas: each of its writes was a 503.
    expect(three?.notDurable).toBeGreaterThanOrEqual(3);
    expect(three?.unavailable).toBeGreaterThanOrEqual(1);
  });
});

/** How often the master refused a write with NOREPLICAS. */
async function noReplicasErrors(): Promise<number> {
  const stats = await master.info("errorstats");
  return Number(/^errorstat_NOREPLICAS:count=(\d+)/m.exec(stats)?.[1] ?? 0);
}
