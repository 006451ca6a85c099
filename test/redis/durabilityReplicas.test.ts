import { describe, expect, test } from "vitest";
import { Browser } from "../../harness/Browser.js";
import { useSentinel } from "../support/hooks.js";
import { useServer } from "../support/http.js";
import { pollUntil } from "../../harness/poll.js";
import { redisInfo } from "../../harness/redisCommand.js";
import { createTestApp } from "../../harness/app/testApp.js";
import type { DurabilityChange, RedisSessionStore } from "../../src/index.js";

// Which replicas a write waits for: every replica that could be promoted, never one that is down
// ("all": every replica Sentinel lists, down or not).
// A master with two replicas, down-after 1000 ms.
const redis = useSentinel({ downAfterMs: 1_000 });
const unavailable = { waitMs: 3_000, retryAfterSeconds: 1 };
const stores: Partial<Record<"byDefault" | "all" | "refusing", RedisSessionStore>> = {};
const changes: DurabilityChange[] = [];
function app(name: keyof typeof stores, durability: object) {
  return useServer(() => {
    const { app, sessions } = createTestApp({
      redis: redis.current.redisOption,
      durability,
      unavailable,
    });
    stores[name] = sessions.store;
    if (name === "byDefault") {
      sessions.store.on("degraded", (change: DurabilityChange) => changes.push(change));
      sessions.store.on("restored", (change: DurabilityChange) => changes.push(change));
    }
    return app;
  });
}
const byDefault = app("byDefault", {});
const all = app("all", { replicas: "all" });
const refusing = app("refusing", { whenFewer: "refuse" });

const write = (browser: Browser, url: string, value: string) =>
  browser.request(`${url}/session/theme`, { method: "PUT", json: { value } });

describe("durability: which replicas a write waits for", () => {
  test("both replicas up: acknowledged, health ok", async () => {
    const browser = new Browser();
    expect((await write(browser, byDefault.url, "light")).status).toBe(200);
    const health = await new Browser().request(`${byDefault.url}/healthz`);
    expect(health.body).toMatchObject({
      status: "ok",
      replicas: 2,
      requiredReplicas: 1,
      degradedMasters: [],
    });
    const asAll = await new Browser().request(`${all.url}/healthz`);
    expect(asAll.body).toMatchObject({ status: "ok", requiredReplicas: 2 });
  });

  test('a replica killed: writes go on with the one left; "all" answers 503 until it is back', async () => {
    const topology = redis.current;
    const master = await topology.currentMaster();
    const replica = topology.servers.find((server) => server !== master);
    if (replica === undefined) throw new Error("no replica");
    const browser = new Browser();
    await replica.process.kill();
    try {
      for (const { url } of [byDefault, refusing]) {
        const started = Date.now();
        expect((await write(browser, url, "dark")).status).toBe(200);
        // Not the wait bound: the dead replica is not waited for.
        expect(Date.now() - started).toBeLessThan(unavailable.waitMs);
      }
      // "all" waits for every replica Sentinel lists, the dead one too.
      expect((await write(new Browser(), all.url, "dark")).status).toBe(503);
      expect(stores.byDefault?.stats()).toMatchObject({ degraded: [], degradations: 0 });
    } finally {
      await replica.start();
      await topology.waitForSteadyState();
    }
  });

  test("the last replica gone: acknowledged and reported degraded, or refused with whenFewer: refuse; restored once a replica is back", async () => {
    const topology = redis.current;
    const master = await topology.currentMaster();
    const replicas = topology.servers.filter((server) => server !== master);
    const browser = new Browser();
    expect((await write(browser, byDefault.url, "before")).status).toBe(200);
    changes.length = 0;
    // Around the first degraded write, and the write that restored them (performance.now()).
    const at = { degradedFrom: 0, degradedBy: 0, restoredFrom: 0, restoredBy: 0 };
    await Promise.all(replicas.map((replica) => replica.process.kill()));
    try {
      await pollUntil(
        "the master to see no replica",
        async () => (await redisInfo(master.port, "replication")).get("connected_slaves") === "0",
      );
      at.degradedFrom = performance.now();
      const degraded = await write(browser, byDefault.url, "alone");
      at.degradedBy = performance.now();
      expect(degraded.status).toBe(200);
      expect(changes).toEqual([
        { master: `127.0.0.1:${master.port}`, degraded: true, replicas: 0, minimum: 1 },
      ]);
      expect(stores.byDefault?.stats()).toMatchObject({
        degraded: [`127.0.0.1:${master.port}`],
        degradations: 1,
      });
      expect((await new Browser().request(`${byDefault.url}/healthz`)).body).toMatchObject({
        status: "degraded",
        degradedMasters: [`127.0.0.1:${master.port}`],
      });
      const refused = await write(new Browser(), refusing.url, "refused");
      expect(refused.status).toBe(503);
      expect((await browser.request(`${byDefault.url}/session`)).body).toMatchObject({
        data: { theme: "alone" },
      });
    } finally {
      await Promise.all(replicas.map((replica) => replica.start()));
      await topology.waitForSteadyState();
    }
    await pollUntil("a write to be restored", async () => {
      at.restoredFrom = performance.now();
      await write(browser, byDefault.url, "after");
      at.restoredBy = performance.now();
      return changes.length === 2;
    });
    // The degraded time began within the first degraded write and ended within the restoring one.
    const seconds = stores.byDefault?.stats().degradedSeconds ?? Number.NaN;
    expect(seconds).toBeGreaterThanOrEqual((at.restoredFrom - at.degradedBy) / 1_000 - 0.002);
    expect(seconds).toBeLessThanOrEqual((at.restoredBy - at.degradedFrom) / 1_000 + 0.002);
    expect(changes[1]).toMatchObject({ degraded: false, master: `127.0.0.1:${master.port}` });
    expect(stores.byDefault?.stats()).toMatchObject({ degraded: [], degradations: 1 });
    // Restored: the figure no longer grows.
    const after = stores.byDefault?.stats().degradedSeconds;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stores.byDefault?.stats().degradedSeconds).toBe(after);
  });
});
