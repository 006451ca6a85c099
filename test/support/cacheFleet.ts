import { Redis } from "ioredis";
import { afterAll, beforeAll } from "vitest";
import { CacheProcess } from "../../harness/cache/CacheProcess.js";
import { FakeDatabase } from "../../harness/cache/FakeDatabase.js";
import type { SentinelStack } from "../../harness/stacks.js";
import { useSentinel } from "./hooks.js";
import type { CacheOptions } from "../../src/index.js";

/** A Sentinel topology of its own, a counting database and a cache process per instance. */
export interface CacheFleet {
  readonly redis: { readonly current: SentinelStack };
  readonly database: FakeDatabase;
  readonly members: CacheProcess[];
  /** Keys `k0`…`k<keys - 1>` whose cached value differs from the database's, on the master. */
  staleKeys(keys: number): Promise<{ cached: number; stale: string[] }>;
}

/**
 * Starts, before the enclosing block's tests, a Sentinel topology, a FakeDatabase and one cache
 * process per name in `instances` (their loaders read that database; their caches have
 * `options` besides `redis`); stops them after.
 */
export function useCacheFleet(
  instances: readonly string[],
  options: Omit<CacheOptions, "redis"> = {},
): CacheFleet {
  const redis = useSentinel();
  let database: FakeDatabase | undefined;
  const members: CacheProcess[] = [];
  beforeAll(async () => {
    database = await FakeDatabase.start();
    const url = database.url;
    members.push(
      ...(await Promise.all(
        instances.map((instance) =>
          CacheProcess.start(instance, { ...options, redis: redis.current.redisOption }, url),
        ),
      )),
    );
  });
  afterAll(async () => {
    await Promise.all(members.map((member) => member.stop()));
    await database?.stop();
  });
  const fleet: CacheFleet = {
    redis,
    get database(): FakeDatabase {
      if (database === undefined) throw new Error("fleet not started (used outside a test?)");
      return database;
    },
    members,
    async staleKeys(keys) {
      const master = await redis.current.currentMaster();
      const admin = new Redis(master.port, "127.0.0.1");
      let cached = 0;
      const stale: string[] = [];
      try {
        for (let k = 0; k < keys; k++) {
          const stored = await admin.get(`cache:{k${k}}`);
          if (stored === null) continue;
          cached++;
          const { v } = JSON.parse(stored) as { v: unknown };
          const row = fleet.database.rows.get(`k${k}`);
          if (JSON.stringify(v) !== JSON.stringify(row)) stale.push(`k${k}`);
        }
      } finally {
        await admin.quit();
      }
      return { cached, stale };
    },
  };
  return fleet;
}
