import { defineConfig } from "vitest/config";

/**
 * Files that mostly wait (on a TTL, a Sentinel's down-after, a timeout) and load a core little
 * (under 30 % of one on average in a measured run, 2026-12-07): three of them run at a time, before
 * the others. The others run one at a time afterwards: they put users, Redis and Sentinels
 * under load on both cores, and a starved Redis would make Sentinel see failures that are not
 * part of the scenario. A file that starts loading the machine belongs in the second list.
 */
const QUIET = [
  "test/architecture.test.ts",
  "test/cache/bulk.test.ts",
  "test/cache/cache.test.ts",
  "test/cache/events.test.ts",
  "test/cache/freshness.test.ts",
  "test/cache/localTier.test.ts",
  "test/cache/namespace.test.ts",
  "test/cache/serializer.test.ts",
  "test/e2e/dockerCompose.test.ts",
  "test/e2e/links.test.ts",
  "test/e2e/readme.test.ts",
  "test/failover/reconnect.test.ts",
  "test/metrics/openTelemetry.test.ts",
  "test/metrics/prometheus.test.ts",
  "test/metrics/tracing.test.ts",
  "test/redis/clusterStack.test.ts",
  "test/redis/durability.test.ts",
  "test/redis/durabilityReplicas.test.ts",
  "test/redis/fsync.test.ts",
  "test/redis/misconfiguration.test.ts",
  "test/redis/ready.test.ts",
  "test/redis/sentinelQuorum.test.ts",
  "test/redis/sentinelQuorumRule.test.ts",
  "test/redis/sharedConnection.test.ts",
  "test/redis/staleBase.test.ts",
  "test/redis/topology.test.ts",
  "test/session/clockSkew.test.ts",
  "test/session/lifecycle.test.ts",
  "test/session/options.test.ts",
  "test/session/security.test.ts",
  "test/session/ttlFunction.test.ts",
  "test/session/store/*.test.ts",
];

export default defineConfig({
  test: {
    // Every suite starts real redis-server/Sentinel processes; give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    pool: "forks",
    reporters: ["default", "./test/support/summaryReporter.ts"],
    projects: [
      {
        extends: true,
        test: {
          name: "quiet",
          include: QUIET,
          maxWorkers: 3,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "loaded",
          include: ["test/**/*.test.ts"],
          exclude: QUIET,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
