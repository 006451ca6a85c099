import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Every suite starts real redis-server/Sentinel processes; give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    pool: "forks",
    // One file at a time: the failover suites load both cores with users, Redis and Sentinels,
    // and a starved Redis would make Sentinel see failures that are not part of the scenario.
    fileParallelism: false,
    reporters: ["default", "./test/support/summaryReporter.ts"],
  },
});
