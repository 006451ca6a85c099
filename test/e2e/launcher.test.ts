import { readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { expect, test } from "vitest";
import { pollUntil } from "../../harness/poll.js";
import { isAlive, LaunchedDemo } from "./launchDemo.js";

/** How soon the README promises every process of the demo is gone after Ctrl-C or a signal. */
const STOP_BOUND_MS = 5_000;

/** The temp dirs the demo's processes live in (every one this project makes starts with `rhs-`). */
async function tempDirs(): Promise<Set<string>> {
  return new Set((await readdir(tmpdir())).filter((name) => name.startsWith("rhs-")));
}

test("npm run demo -- --json: ready line within 20 s, every process alive, all gone after Ctrl-C", async () => {
  const before = await tempDirs();
  const demo = await LaunchedDemo.start();
  const dirs = [...(await tempDirs())].filter((name) => !before.has(name));
  try {
    console.log(`demo ready after ${Math.round(demo.startupMs)} ms`);
    expect(demo.startupMs).toBeLessThan(20_000);
    expect(demo.info.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(demo.info.control).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(demo.info.instances).toHaveLength(3);
    expect(demo.info.redis.replicas).toHaveLength(2);
    expect(demo.info.redis.sentinels).toHaveLength(3);
    expect(demo.info.database.port).toBeGreaterThan(0);
    // PostgreSQL, 3 Redis nodes, 3 Sentinels, 3 instances, HAProxy.
    expect(demo.pids).toHaveLength(11);
    for (const pid of demo.pids) expect(isAlive(pid)).toBe(true);

    const health = await fetch(`${demo.info.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ redis: { status: "ok", role: "master" } });
  } finally {
    const pids = demo.pids;
    const stopped = performance.now();
    await demo.interrupt();
    await pollUntil(
      "every process of the demo to be gone",
      () => pids.every((pid) => !isAlive(pid)),
      { timeoutMs: STOP_BOUND_MS },
    );
    console.log(
      `all ${pids.length} processes gone ${Math.round(performance.now() - stopped)} ms after SIGINT`,
    );
    const left = await tempDirs();
    expect(dirs.length).toBeGreaterThan(0);
    expect(dirs.filter((name) => left.has(name))).toEqual([]);
  }
});

test.each(["SIGINT", "SIGTERM"] as const)(
  "%s to the npm process alone stops every process of the demo and removes its temp dirs",
  async (signal) => {
    const before = await tempDirs();
    const demo = await LaunchedDemo.start(["--instances", "2"]);
    const pids = [demo.npmPid, ...demo.pids];
    const dirs = [...(await tempDirs())].filter((name) => !before.has(name));
    expect(dirs.length).toBeGreaterThan(0);
    try {
      const signalled = performance.now();
      demo.signalNpm(signal);
      await pollUntil(
        `every process of the demo to be gone after ${signal} to npm`,
        () => pids.every((pid) => !isAlive(pid)),
        { timeoutMs: STOP_BOUND_MS },
      );
      console.log(
        `${signal} to npm: npm and all ${pids.length - 1} processes of the demo gone after ${Math.round(performance.now() - signalled)} ms`,
      );
      const left = await tempDirs();
      expect(dirs.filter((name) => left.has(name))).toEqual([]);
    } finally {
      await demo.interrupt();
    }
  },
);

test("--instances sets how many app instances run behind the load balancer", async () => {
  const demo = await LaunchedDemo.start(["--instances", "2"]);
  try {
    expect(demo.info.instances.map((instance) => instance.id)).toEqual(["app-1", "app-2"]);
  } finally {
    await demo.interrupt();
  }
});

test("--cluster: a 3-shard Cluster behind the same app, a shard's master killed from the panel, the synthetic users never see an error", async () => {
  const demo = await LaunchedDemo.start(["--cluster", "--instances", "2"]);
  try {
    const { shards } = demo.info.redis;
    expect(shards).toHaveLength(3);
    for (const shard of shards ?? []) expect(shard.replicas).toHaveLength(2);
    expect(demo.info.redis.sentinels).toEqual([]);
    for (const pid of demo.pids) expect(isAlive(pid)).toBe(true);
    const health = await fetch(`${demo.info.url}/healthz`);
    expect(await health.json()).toMatchObject({ redis: { status: "ok", topology: "cluster" } });

    const killed = shards?.[0]?.master.name;
    await demo.control("/api/redis/shards/0/kill");
    const promoted = await pollUntil(
      "shard 0 to have a new master",
      async () => {
        const master = (await demo.state()).redis.shards?.[0]?.master;
        return master !== undefined && master.name !== killed && master.name;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    // Past the failover: a few seconds of synthetic users on the new master.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const { samples, events } = await demo.history();
    expect(events.map(({ label }) => label)).toEqual(
      expect.arrayContaining([
        `killed Redis master ${killed ?? ""}`,
        expect.stringMatching(
          new RegExp(`^failover of shard 0-5460: ${killed ?? ""} → ${promoted}$`),
        ),
      ]),
    );
    const requests = samples.reduce((sum, { requests }) => sum + requests, 0);
    console.log(`--cluster: ${requests} synthetic requests across a shard failover`);
    expect(requests).toBeGreaterThan(50);
    expect(samples.reduce((sum, { errors }) => sum + errors, 0)).toBe(0);
  } catch (error) {
    console.error(demo.libraryLog);
    throw error;
  } finally {
    await demo.interrupt();
  }
});
