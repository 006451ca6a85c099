import { setTimeout as delay } from "node:timers/promises";
import { describe, expect, test } from "vitest";
import type { FakeDatabase } from "../../harness/cache/FakeDatabase.js";
import type { WorkloadResult } from "../../harness/cache/protocol.js";
import { pollUntil } from "../../harness/poll.js";
import { useCacheFleet } from "../support/cacheFleet.js";

// Two app processes with a cache each on Sentinel (a master, 2 replicas; changes confirmed by
// one), under a random load of reads and writes, while the master freezes, or dies: each on a
// topology of its own (after a freeze, Sentinel may still be settling a failover).
/** How many keys the database has served at least once. */
function loadedKeys(database: FakeDatabase): number {
  return new Set(database.reads.map((read) => read.key)).size;
}

function total(runs: WorkloadResult[], pick: (run: WorkloadResult) => number): number {
  return runs.reduce((sum, run) => sum + pick(run), 0);
}

describe("master frozen", () => {
  const fleet = useCacheFleet(["f1", "f2"]);
  test("master frozen 3 s under a read load: getOrLoad p99 within waitMs + the loader, database reads per process within the cap, nothing left pending", async () => {
    for (let k = 0; k < 100; k++) fleet.database.rows.set(`k${k}`, `row ${k}`);
    fleet.database.maxInFlightBy.clear();
    // A database read takes 20 ms, and a loader pauses up to 10 ms more.
    fleet.database.delayMs = 20;
    const load = Promise.all(
      fleet.members.map((member) =>
        member.workload({ durationMs: 6_000, keys: 100, concurrency: 24, pauseMs: 10, reads: 1 }),
      ),
    );
    // Freeze once every key was loaded (the fleet reads through the cache from then on).
    await pollUntil("every key loaded once", () => loadedKeys(fleet.database) === 100);
    const master = await fleet.redis.current.currentMaster();
    master.process.pause();
    await delay(3_000); // the freeze itself
    master.process.resume();
    const runs = await load;
    const p99 = Math.max(...runs.map((run) => run.readP99Ms));
    const slowest = Math.max(...runs.map((run) => run.readMaxMs));
    const cap = Math.max(...fleet.database.maxInFlightBy.values());
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
});

describe("master killed", () => {
  const fleet = useCacheFleet(["k1", "k2"]);
  test("master SIGKILL during a mixed load: 0 failed getOrLoad, and 0 keys older than the database after the failover", async () => {
    const load = Promise.all(
      fleet.members.map((member) =>
        member.workload({ durationMs: 9_000, keys: 100, concurrency: 10, pauseMs: 10 }),
      ),
    );
    // Kill once the load is under way: keys loaded and changed.
    await pollUntil("50 keys loaded", () => loadedKeys(fleet.database) >= 50);
    await (await fleet.redis.current.currentMaster()).process.kill();
    const runs = await load;
    await fleet.redis.current.waitForSteadyState();
    const { cached, stale } = await fleet.staleKeys(100);
    console.log(
      `master killed: ${total(runs, (run) => run.reads)} getOrLoad, ${total(runs, (run) => run.failed.getOrLoad)} failed; ` +
        `${total(runs, (run) => run.failed.writeThrough)} writeThrough refused (Redis unavailable), ` +
        `${total(runs, (run) => run.failed.invalidate)} invalidations retried; ` +
        `${stale.length} of ${cached} cached keys differ from the database`,
    );
    expect(total(runs, (run) => run.failed.getOrLoad)).toBe(0);
    expect(stale).toEqual([]);
  });
});
