import { setTimeout as delay } from "node:timers/promises";
import { expect, test } from "vitest";
import type { BurstResult } from "../../harness/cache/protocol.js";
import { useCacheFleet } from "../support/cacheFleet.js";

// Four app processes with a cache each, on one Sentinel topology, their loaders reading one
// (fake, counting) database: the stampede of a cold key across the fleet.
const fleet = useCacheFleet(["p1", "p2", "p3", "p4"]);
function values(bursts: BurstResult[]): unknown[] {
  return bursts.flatMap((burst) => burst.results.map((result) => result.value ?? result.error));
}

test("4 processes × 500 concurrent getOrLoad of one cold key, loader 100 ms: exactly 1 load", async () => {
  fleet.database.delayMs = 100;
  fleet.database.rows.set("product:1", { id: 1, name: "tea" });
  const bursts = await Promise.all(fleet.members.map((member) => member.burst("product:1", 500)));
  const reads = fleet.database.reads.filter((read) => read.key === "product:1");
  console.log(
    `stampede: ${reads.length} database read(s) for 2 000 calls; slowest call ` +
      `${Math.max(...bursts.flatMap((burst) => burst.results.map((result) => result.ms)))} ms`,
  );
  expect(new Set(values(bursts).map((value) => JSON.stringify(value)))).toEqual(
    new Set([JSON.stringify({ id: 1, name: "tea" })]),
  );
  expect(reads).toHaveLength(1);
  expect(bursts.reduce((sum, burst) => sum + burst.stats.loads, 0)).toBe(1);
});

test("the lease holder SIGKILLed 200 ms into a 2 s load: at most 2 loads, every waiter answered within 3.5 s", async () => {
  fleet.database.delayMs = 2_000;
  fleet.database.rows.set("product:2", { id: 2, name: "coffee" });
  const firstRead = fleet.database.nextRead();
  const bursts = fleet.members.map((member) =>
    member.burst("product:2", 100).then(
      (burst) => ({ member, burst }),
      () => ({ member, burst: undefined }),
    ),
  );
  const read = await firstRead;
  const victim = fleet.members.find((member) => member.instance === read.instance);
  if (victim === undefined) throw new Error(`no process ${read.instance}`);
  await delay(200);
  await victim.process.kill();
  const answered = (await Promise.all(bursts)).filter(({ member }) => member !== victim);
  const reads = fleet.database.reads.filter((each) => each.key === "product:2");
  const slowest = Math.max(
    ...answered.flatMap(({ burst }) => burst?.results.map((result) => result.ms) ?? [Infinity]),
  );
  console.log(`holder killed: ${reads.length} loads, slowest waiter answered in ${slowest} ms`);
  expect(reads.length).toBeLessThanOrEqual(2);
  for (const { burst } of answered) {
    expect(
      burst?.results.every((result) => JSON.stringify(result.value) === '{"id":2,"name":"coffee"}'),
    ).toBe(true);
  }
  expect(slowest).toBeLessThanOrEqual(3_500);
});
