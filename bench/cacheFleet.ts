// The fleet figures of `npm run bench -- --cache`, for this library and its peers alike: 4 cache
// processes per library on one Redis node, their loaders reading one FakeDatabase.
// - Stampede: 500 concurrent getOrLoad of one cold key in each process, the database read taking
//   100 ms: how many database reads (the loader runs) it took. Three cold keys.
// - Stale sets: 10 000 random getOrLoad / write-through / update-then-invalidate over 100 keys
//   (2 500 per process, 20 at a time, pauses of up to 20 ms between each database access and the
//   cache's set); then, once every write has settled, the keys for which some process would
//   serve a value other than the database's.
import { setTimeout as delay } from "node:timers/promises";
import { Redis } from "ioredis";
import { CacheProcess } from "../harness/cache/CacheProcess.js";
import { FakeDatabase } from "../harness/cache/FakeDatabase.js";
import { SingleNodeStack } from "../harness/stacks.js";

export const FLEET_LIBRARIES = [
  "redis-ha-session",
  "redis-ha-session-local",
  "bentocache",
  "bentocache-two-tier",
  "cache-manager",
] as const;

const PROCESSES = 4;
const KEYS = 100;

export interface FleetFigures {
  library: string;
  /** Database reads per stampede, one per cold key. */
  stampedeLoads: number[];
  staleKeys: number;
  cachedKeys: number;
  failedOperations: number;
}

async function fleet(
  root: string,
  library: string,
  port: number,
  database: FakeDatabase,
): Promise<CacheProcess<unknown>[]> {
  const names = Array.from({ length: PROCESSES }, (_, i) => `${library}-${i + 1}`);
  if (library.startsWith("redis-ha-session")) {
    const local = library.endsWith("-local") ? { local: { maxEntries: 10_000 } } : {};
    return Promise.all(
      names.map((name) =>
        CacheProcess.start(name, { redis: `redis://127.0.0.1:${port}`, ...local }, database.url),
      ),
    );
  }
  return Promise.all(
    names.map((name) =>
      CacheProcess.startScript<unknown>(name, `${root}bench/peers/cacheWorker.ts`, database.url, {
        BENCH_CACHE: library,
        BENCH_REDIS_PORT: String(port),
      }),
    ),
  );
}

export async function cacheFleetBench(
  root: string,
  progress: (line: string) => void,
): Promise<FleetFigures[]> {
  const topology = await SingleNodeStack.start();
  const admin = new Redis(topology.server.port, "127.0.0.1");
  const database = await FakeDatabase.start();
  const figures: FleetFigures[] = [];
  try {
    for (const library of FLEET_LIBRARIES) {
      await admin.flushall();
      const members = await fleet(root, library, topology.server.port, database);
      try {
        database.delayMs = 100;
        const stampedeLoads: number[] = [];
        for (let run = 1; run <= 3; run++) {
          const key = `product:cold-${run}`;
          const before = database.reads.filter((read) => read.key === key).length;
          await Promise.all(members.map((member) => member.burst(key, 500)));
          stampedeLoads.push(database.reads.filter((read) => read.key === key).length - before);
        }
        database.delayMs = 0;
        const keys = Array.from({ length: KEYS }, (_, k) => `k${k}`);
        for (const key of keys) database.rows.set(key, "initial");
        const runs = await Promise.all(
          members.map((member) =>
            member.workload({ ops: 2_500, keys: KEYS, concurrency: 20, pauseMs: 20 }),
          ),
        );
        // Invalidation messages and the peers' own buses delivered.
        await delay(1_000);
        const served = await Promise.all(members.map((member) => member.peek(keys)));
        let cachedKeys = 0;
        let staleKeys = 0;
        keys.forEach((key, k) => {
          const values = served.map((values) => values[k]).filter((value) => value != null);
          if (values.length > 0) cachedKeys++;
          const row = JSON.stringify(database.rows.get(key));
          if (values.some((value) => JSON.stringify(value) !== row)) staleKeys++;
        });
        const failedOperations = runs.reduce(
          (sum, run) =>
            sum + run.failed.getOrLoad + run.failed.writeThrough + run.failed.invalidate,
          0,
        );
        figures.push({ library, stampedeLoads, staleKeys, cachedKeys, failedOperations });
        progress(
          `${library.padEnd(24)} stampede: ${stampedeLoads.join(", ")} database reads · ` +
            `stale sets: ${staleKeys} of ${cachedKeys} cached keys stale · ` +
            `${failedOperations} operations failed`,
        );
      } finally {
        await Promise.all(members.map((member) => member.stop()));
      }
    }
  } finally {
    await database.stop();
    admin.disconnect();
    await topology.stop();
  }
  return figures;
}
