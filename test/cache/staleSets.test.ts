import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, test } from "vitest";
import { CacheProcess } from "../../harness/cache/CacheProcess.js";
import { FakeDatabase } from "../../harness/cache/FakeDatabase.js";
import { useSentinel } from "../support/hooks.js";

// 10 000 random getOrLoad / writeThrough / update-then-invalidate over 100 keys from 4 processes
// on Sentinel, with pauses between each database access and the cache's set: once the load
// stops, no key may hold a value other than the database's.
const redis = useSentinel();
let database: FakeDatabase;
let fleet: CacheProcess[] = [];

beforeAll(async () => {
  database = await FakeDatabase.start();
  fleet = await Promise.all(
    ["s1", "s2", "s3", "s4"].map((instance) =>
      CacheProcess.start(instance, { redis: redis.current.redisOption }, database.url),
    ),
  );
});
afterAll(async () => {
  await Promise.all(fleet.map((member) => member.stop()));
  await database.stop();
});

test("10 000 random concurrent writeThrough / getOrLoad / invalidate over 100 keys from 4 processes: 0 keys stale afterwards", async () => {
  for (let k = 0; k < 100; k++) database.rows.set(`k${k}`, "initial");
  const runs = await Promise.all(
    fleet.map((member) => member.workload({ ops: 2_500, keys: 100, concurrency: 20, pauseMs: 20 })),
  );
  const master = await redis.current.currentMaster();
  const admin = new Redis(master.port, "127.0.0.1");
  let cached = 0;
  const stale: string[] = [];
  for (let k = 0; k < 100; k++) {
    const stored = await admin.get(`cache:{k${k}}`);
    if (stored === null) continue;
    cached++;
    const { v } = JSON.parse(stored) as { v: unknown };
    if (JSON.stringify(v) !== JSON.stringify(database.rows.get(`k${k}`))) stale.push(`k${k}`);
  }
  await admin.quit();
  // getOrLoad never fails (without Redis it calls the loader); a change may be refused when
  // Redis takes longer than waitMs (250 ms) to confirm it on a loaded machine — a write-through
  // then does not write, and the workload retries an invalidation: neither can leave a stale key.
  const failed = runs.reduce((sum, run) => sum + run.failed.getOrLoad, 0);
  const refused = runs.reduce(
    (sum, run) => sum + run.failed.writeThrough + run.failed.invalidate,
    0,
  );
  const rejected = runs.reduce((sum, run) => sum + run.stats.rejectedStaleSets, 0);
  console.log(
    `stale sets: ${stale.length} of ${cached} cached keys differ from the database; ` +
      `${rejected} stale sets refused, ${failed} getOrLoad failed, ${refused} changes refused`,
  );
  expect(failed).toBe(0);
  expect(stale).toEqual([]);
});
