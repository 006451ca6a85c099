import { describe, expect, test } from "vitest";
import { clusterFault } from "../../harness/clusterFailover.js";
import { SERVER_KINDS } from "../../harness/serverKind.js";

// 20 users keep adding cart items (each 2xx an acknowledged write) through 2 app instances on a
// 3-shard Cluster while one shard's master fails. `npm run chaos -- --cluster` repeats the kill.

test("Cluster master SIGKILL: no request fails, nobody is logged out, nothing acknowledged is lost", async () => {
  const run = await clusterFault("Cluster master SIGKILL", "kill");
  expect(run.stats.requests).toBeGreaterThan(100);
  expect(run.usersOnFailedShard).toBeGreaterThan(0);
  expect(run.verdict).toEqual({ loggedOut: 0, acknowledgedLost: 0, lost: [] });
  expect(run.stats.failed).toBe(0);
  expect(run.failedShardStallMs).toBeLessThanOrEqual(run.clusterRecoveryMs + 500);
  expect(run.otherShardsStallMs).toBeLessThanOrEqual(1_000);
  // Each instance's store reported the shard's failover once.
  expect(run.failoverEvents).toEqual([1, 1]);
});

test("Cluster master frozen 5 s: nothing acknowledged is lost, nobody is logged out", async () => {
  const run = await clusterFault("Cluster master SIGSTOP 5 s", "freeze");
  expect(run.verdict).toEqual({ loggedOut: 0, acknowledgedLost: 0, lost: [] });
  expect(run.stats.loggedOut).toBe(0);
  // Requests wait through the freeze and the failover, within the wait bound (10 s).
  expect(run.stats.failed).toBe(0);
  // A replica was promoted during the freeze (cluster-node-timeout 2 s).
  expect(run.failoverEvents).toEqual([1, 1]);
});

test("manual CLUSTER FAILOVER: no request fails", async () => {
  const run = await clusterFault("manual CLUSTER FAILOVER", "failover");
  expect(run.verdict).toEqual({ loggedOut: 0, acknowledgedLost: 0, lost: [] });
  expect(run.stats.failed).toBe(0);
  expect(run.otherShardsStallMs).toBeLessThanOrEqual(1_000);
  expect(run.failoverEvents).toEqual([1, 1]);
});

// One replica per shard, the layout most managed deployments use: once the master is killed, its
// promoted replica has no replica left. Writes go on, degraded, until the killed node is back.
describe.each(SERVER_KINDS)("%s, one replica per shard", (kind) => {
  test("master SIGKILL: no request fails, nothing acknowledged is lost; degraded until the node is back, then restored", async () => {
    const run = await clusterFault(
      `${kind}: Cluster (1 replica per shard) master SIGKILL`,
      "kill",
      {},
      { replicasPerMaster: 1, kind, restart: true },
    );
    expect(run.usersOnFailedShard).toBeGreaterThan(0);
    expect(run.verdict).toEqual({ loggedOut: 0, acknowledgedLost: 0, lost: [] });
    expect(run.stats.failed).toBe(0);
    expect(run.failedShardStallMs).toBeLessThanOrEqual(run.clusterRecoveryMs + 500);
    expect(run.otherShardsStallMs).toBeLessThanOrEqual(1_000);
    for (const events of run.durabilityEvents) {
      expect(events).toEqual({ degraded: 1, restored: 1 });
    }
  });
});

// The same freeze as above with one replica per shard: the promoted replica has none left, and
// the old master wakes up still taking writes (on the server RHS_SERVER names; `npm run
// test:valkey` runs it on Valkey). It lost 2 acknowledged writes in one CI run of 2026-12-07 and
// none in 20 runs of `npm run chaos -- --cluster --fault freeze --replicas 1` since (10 of them
// beside a busy core); a loss now prints the nodes' logs and each lost item's time.
test("one replica per shard, master frozen 5 s: nothing acknowledged is lost, no request fails", async () => {
  const run = await clusterFault(
    "Cluster (1 replica per shard) master SIGSTOP 5 s",
    "freeze",
    {},
    { replicasPerMaster: 1 },
  );
  expect(run.verdict).toEqual({ loggedOut: 0, acknowledgedLost: 0, lost: [] });
  expect(run.stats.failed).toBe(0);
  expect(run.otherShardsStallMs).toBeLessThanOrEqual(1_000);
});
