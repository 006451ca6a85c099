import { expect, test } from "vitest";
import { useCacheFleet } from "../support/cacheFleet.js";

// 10 000 random getOrLoad / writeThrough / update-then-invalidate over 100 keys from 4 processes
// on Sentinel, with pauses between each database access and the cache's set: once the load
// stops, no key may hold a value other than the database's.
const fleet = useCacheFleet(["s1", "s2", "s3", "s4"]);

test("10 000 random concurrent writeThrough / getOrLoad / invalidate over 100 keys from 4 processes: 0 keys stale afterwards", async () => {
  for (let k = 0; k < 100; k++) fleet.database.rows.set(`k${k}`, "initial");
  const runs = await Promise.all(
    fleet.members.map((member) =>
      member.workload({ ops: 2_500, keys: 100, concurrency: 20, pauseMs: 20 }),
    ),
  );
  const { cached, stale } = await fleet.staleKeys(100);
  // getOrLoad never fails (without Redis it calls the loader); a change may be refused when
  // Redis takes longer than changeWaitMs (10 s) to confirm it — a write-through then does not
  // write, and the workload retries an invalidation: neither can leave a stale key.
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
