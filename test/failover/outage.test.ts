import { expect, test } from "vitest";
import { pollUntil } from "../../harness/poll.js";
import type { SentinelStack } from "../../harness/stacks.js";
import { withStack } from "../../harness/failoverStack.js";

async function stopAll(topology: SentinelStack): Promise<void> {
  await Promise.all(topology.nodes.map((node) => node.process.stop()));
}

async function startAll(topology: SentinelStack): Promise<void> {
  await Promise.all(topology.servers.map((server) => server.start()));
  await Promise.all(topology.sentinels.map((sentinel) => sentinel.start()));
  await topology.waitForSteadyState();
}

test("a full restart of every Redis node and Sentinel keeps every session (AOF)", async () => {
  await withStack({}, async ({ topology, load }) => {
    load.start();
    await load.acknowledges(200);
    await stopAll(topology);
    await startAll(topology);
    // Writes go on after the restart, on the sessions from before it.
    await load.acknowledges(200);
    const { stats, verdict } = await load.finish("full restart");
    expect(stats.requests).toBeGreaterThan(100);
    expect(stats.loggedOut).toBe(0);
    expect(verdict).toEqual({ loggedOut: 0, acknowledgedLost: 0, lost: [] });
  });
});

test("Redis gone: 503 with Retry-After within the wait bound, cookie untouched; back when Redis is", async () => {
  const waitMs = 3_000;
  const options = { unavailable: { waitMs, retryAfterSeconds: 7 } };
  await withStack(options, async ({ topology, apps, load }) => {
    const [app] = apps;
    const [user] = load.users;
    if (app === undefined || user === undefined) throw new Error("stack has no app or user");
    const cookie = user.browser.cookie;
    expect((await user.browser.request(`${app.url}/me`)).body).toMatchObject({ user: user.name });

    load.start();
    await load.acknowledges(100);
    await stopAll(topology);
    const started = performance.now();
    const first = await user.browser.request(`${app.url}/cart`, {
      method: "POST",
      json: { item: "x" },
    });
    const firstMs = performance.now() - started;
    console.log(
      `Redis gone: first request answered ${first.status} after ${Math.round(firstMs)} ms`,
    );
    expect(first.status).toBe(503);
    expect(firstMs).toBeLessThan(waitMs + 1_000);
    expect(first.headers.get("retry-after")).toBe("7");
    expect(first.setCookie).toBeUndefined();
    expect(first.body).toMatchObject({ error: "session_store_unavailable" });

    // Once the outage has lasted past the bound, the store reports it and answers at once.
    const page = await user.browser.request(`${app.url}/me`, { accept: "text/html" });
    expect(page.status).toBe(503);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    expect(String(page.body)).toContain("Service Unavailable");
    expect(page.setCookie).toBeUndefined();
    expect(user.browser.cookie).toBe(cookie);
    expect(app.running).toBe(true);
    const health = await fetch(`${app.url}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: "unavailable" });

    await startAll(topology);
    const back = await pollUntil(
      "the same cookie to be logged in again",
      async () => {
        const response = await user.browser.request(`${app.url}/me`);
        return response.status === 200 ? response : false;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(back.body).toMatchObject({ user: user.name });
    expect(user.browser.cookie).toBe(cookie);

    await load.acknowledges(100);
    const { stats, verdict } = await load.finish("Redis gone and back");
    expect(stats.unavailable).toBeGreaterThan(0);
    expect(stats.loggedOut).toBe(0);
    expect(verdict).toEqual({ loggedOut: 0, acknowledgedLost: 0, lost: [] });
    const events = await fetch(`${app.url}/store-events`).then((r) => r.json());
    expect(events).toMatchObject({ disconnect: 1, connect: 1 });
  });
});
