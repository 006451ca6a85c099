import { describe, expect, test } from "vitest";
import { Browser } from "../../harness/Browser.js";
import { useSentinel } from "../support/hooks.js";
import { useServer } from "../support/http.js";
import { pollUntil } from "../../harness/poll.js";
import { redisInfo } from "../../harness/redisCommand.js";
import { createTestApp } from "../../harness/app/testApp.js";

// durability.replicas "all": every replica Sentinel lists for the master must confirm a write,
// not just as many as happen to be connected.
const redis = useSentinel();
const unavailable = { waitMs: 1_500, retryAfterSeconds: 1 };
const all = useServer(
  () =>
    createTestApp({
      redis: redis.current.redisOption,
      durability: { replicas: "all" },
      unavailable,
    }).app,
);
const one = useServer(
  () =>
    createTestApp({ redis: redis.current.redisOption, durability: { replicas: 1 }, unavailable })
      .app,
);

describe('durability.replicas "all"', () => {
  test("with both replicas up a write is acknowledged, and health asks for both", async () => {
    const browser = new Browser();
    const login = await browser.request(`${all.url}/login`, {
      method: "POST",
      json: { user: "ann" },
    });
    expect(login.status).toBe(200);
    const health = await new Browser().request(`${all.url}/healthz`);
    expect(health.body).toMatchObject({ status: "ok", replicas: 2, requiredReplicas: 2 });
  });

  test('a replica gone: 1 replica still acknowledges, "all" answers 503 until it is back', async () => {
    const topology = redis.current;
    const master = await topology.currentMaster();
    const replica = topology.servers.find((server) => server !== master);
    if (replica === undefined) throw new Error("no replica");
    const browser = new Browser();
    await browser.request(`${one.url}/login`, { method: "POST", json: { user: "ben" } });
    await replica.process.kill();
    try {
      await pollUntil(
        "the master to see one replica",
        async () => (await redisInfo(master.port, "replication")).get("connected_slaves") === "1",
      );
      const write = (url: string, value: string) =>
        browser.request(`${url}/session/theme`, { method: "PUT", json: { value } });
      // The master has one replica connected: not enough for "all", which counts the one
      // Sentinel still lists; enough for `replicas: 1`.
      const refused = await write(all.url, "light");
      expect(refused.status).toBe(503);
      expect((await write(one.url, "dark")).status).toBe(200);
      expect((await new Browser().request(`${all.url}/healthz`)).body).toMatchObject({
        status: "degraded",
        replicas: 1,
        requiredReplicas: 2,
      });
      expect((await browser.request(`${one.url}/session`)).body).toMatchObject({
        data: { theme: "dark" },
      });
    } finally {
      await replica.start();
      await topology.waitForSteadyState();
    }
    const accepted = await browser.request(`${all.url}/session/theme`, {
      method: "PUT",
      json: { value: "light" },
    });
    expect(accepted.status).toBe(200);
  });
});
