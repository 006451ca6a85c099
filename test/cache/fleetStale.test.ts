import { setTimeout as delay } from "node:timers/promises";
import { expect, test } from "vitest";
import { pollUntil } from "../../harness/poll.js";
import { useCacheFleet } from "../support/cacheFleet.js";

// Stale-while-revalidate across a fleet: four app processes whose values expire after 2 s
// and are kept a minute past it, their loaders reading one (counting, slow) database.
const fleet = useCacheFleet(["p1", "p2", "p3", "p4"], { ttl: 2, staleTtl: 60, ttlJitter: 0 });

test("4 processes × 50 calls of an expired key, loader 1.5 s: every call answered with the expired value within 50 ms, 1 refresh for the fleet", async () => {
  fleet.database.delayMs = 1_500;
  fleet.database.rows.set("product:7", { id: 7, price: 10 });
  const [first] = fleet.members;
  if (first === undefined) throw new Error("no fleet");
  await first.burst("product:7", 1);
  await delay(2_100);
  fleet.database.rows.set("product:7", { id: 7, price: 11 });
  const readsBefore = fleet.database.reads.length;
  const bursts = await Promise.all(fleet.members.map((member) => member.burst("product:7", 50)));
  const results = bursts.flatMap((burst) => burst.results);
  const slowest = Math.max(...results.map((result) => result.ms));
  console.log(`stale-while-revalidate: 200 calls, slowest ${slowest} ms`);
  expect(new Set(results.map((result) => JSON.stringify(result.value ?? result.error)))).toEqual(
    new Set([JSON.stringify({ id: 7, price: 10 })]),
  );
  expect(slowest).toBeLessThan(50);
  // The one refresh stores the new value, which every process then answers.
  await pollUntil("the refresh to be stored", async () => {
    const answers = await Promise.all(fleet.members.map((member) => member.peek(["product:7"])));
    return answers.every(([value]) => JSON.stringify(value) === '{"id":7,"price":11}');
  });
  const refreshes = fleet.database.reads.slice(readsBefore);
  expect(refreshes).toHaveLength(1);
});
