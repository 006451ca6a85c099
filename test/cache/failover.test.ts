import { setTimeout as delay } from "node:timers/promises";
import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, test } from "vitest";
import { CacheProcess } from "../../harness/cache/CacheProcess.js";
import type { WorkloadResult } from "../../harness/cache/CacheProcess.js";
import { FakeDatabase } from "../../harness/cache/FakeDatabase.js";
import { useSentinel } from "../support/hooks.js";

// Two app processes with a cache each on Sentinel (a master, 2 replicas; changes confirmed by
// one), under a random load of reads and writes, while the master freezes, then dies.
const redis = useSentinel();
let database: FakeDatabase;
let fleet: CacheProcess[] = [];

beforeAll(async () => {
  database = await FakeDatabase.start();
  fleet = await Promise.all(
    ["f1", "f2"].map((instance) =>
      CacheProcess.start(instance, { redis: redis.current.redisOption }, database.url),
    ),
  );
});
afterAll(async () => {
  await Promise.all(fleet.map((member) => member.stop()));
  await database.stop();
});

function total(runs: WorkloadResult[], pick: (run: WorkloadResult) => number): number {
  return runs.reduce((sum, run) => sum + pick(run), 0);
}

/** Keys whose cached value differs from the database's, read on the current master. */
async function staleKeys(keys: number): Promise<{ cached: number; stale: string[] }> {
  const master = await redis.current.waitForSteadyState();
  const admin = new Redis(master.port, "127.0.0.1");
  let cached = 0;
  const stale: string[] = [];
  for (let k = 0; k < keys; k++) {
    const stored = await admin.get(`cache:{k${k}}`);
    if (stored === null) continue;
    cached++;
    const { v } = JSON.parse(stored) as { v: unknown };
    if (JSON.stringify(v) !== JSON.stringify(database.rows.get(`k${k}`))) stale.push(`k${k}`);
  }
  await admin.quit();
  return { cached, stale };
}

test("master frozen 3 s under a read load: getOrLoad p99 within waitMs + the loader, database reads per process within the cap, nothing left pending", async () => {
  for (let k = 0; k < 100; k++) database.rows.set(`k${k}`, `row ${k}`);
  database.maxInFlightBy.clear();
  // A database read takes 20 ms, and a loader pauses up to 10 ms more.
  database.delayMs = 20;
  const load = Promise.all(
    fleet.map((member) =>
      member.workload({ durationMs: 6_000, keys: 100, concurrency: 24, pauseMs: 10, reads: 1 }),
    ),
  );
  await delay(1_500);
  const master = await redis.current.currentMaster();
  master.process.pause();
  await delay(3_000);
  master.process.resume();
  const runs = await load;
  const p99 = Math.max(...runs.map((run) => run.readP99Ms));
  const slowest = Math.max(...runs.map((run) => run.readMaxMs));
  const cap = Math.max(...database.maxInFlightBy.values());
  console.log(
    `master frozen: ${total(runs, (run) => run.reads)} getOrLoad, ${total(runs, (run) => run.failed.getOrLoad)} failed, ` +
      `p99 ${p99.toFixed(0)} ms, slowest ${slowest.toFixed(0)} ms, at most ${cap} database reads at once per process`,
  );
  expect(total(runs, (run) => run.failed.getOrLoad)).toBe(0);
  expect(total(runs, (run) => run.pending)).toBe(0);
  // p99 within waitMs (250) and the loader (≤ 30 ms). The slowest call: one that was waiting
  // for another process's load when Redis froze looks again after waitMs, then spends its own
  // waitMs; the loader twice (past the cap: 24 calls at once, 16 loaders); the deadline sweep.
  expect(p99).toBeLessThanOrEqual(250 + 30);
  expect(slowest).toBeLessThanOrEqual(2 * 250 + 2 * 30 + 20 + 50);
  expect(cap).toBeLessThanOrEqual(16);
});

test("master SIGKILL during a mixed load: 0 failed getOrLoad, and 0 keys older than the database after the failover", async () => {
  database.delayMs = 0;
  await redis.current.waitForSteadyState();
  const load = Promise.all(
    fleet.map((member) =>
      member.workload({ durationMs: 9_000, keys: 100, concurrency: 10, pauseMs: 10 }),
    ),
  );
  await delay(1_500);
  await (await redis.current.currentMaster()).process.kill();
  const runs = await load;
  const { cached, stale } = await staleKeys(100);
  console.log(
    `master killed: ${total(runs, (run) => run.reads)} getOrLoad, ${total(runs, (run) => run.failed.getOrLoad)} failed; ` +
      `${total(runs, (run) => run.failed.writeThrough)} writeThrough refused (Redis unavailable), ` +
      `${total(runs, (run) => run.failed.invalidate)} invalidations retried; ` +
      `${stale.length} of ${cached} cached keys differ from the database`,
  );
  expect(total(runs, (run) => run.failed.getOrLoad)).toBe(0);
  expect(stale).toEqual([]);
});
