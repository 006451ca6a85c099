// `npm run chaos -- --cluster [--runs 10]`: the Cluster master SIGKILL scenario of the test suite
// (3 shards of a master and two replicas, 2 app instances, 20 users), on a fresh Cluster each
// run. One line per run, then a summary; exits 1 if any run failed a request, lost an
// acknowledged write, logged someone out, or stalled the failed shard past the Cluster's own
// recovery + 500 ms or another shard past 1 s.
import { clusterFault } from "../harness/clusterFailover.js";
import type { ClusterFaultRun } from "../harness/clusterFailover.js";
import { median } from "./measure.js";

export async function clusterChaos(runs: number): Promise<number> {
  console.log(
    `Cluster master SIGKILL × ${runs}: 3 masters × 2 replicas, cluster-node-timeout 2000, ` +
      "2 app instances, 20 users, durability 1 replica per shard",
  );
  const results: ClusterFaultRun[] = [];
  for (let run = 1; run <= runs; run++) {
    results.push(await clusterFault(`run ${run}/${runs}`, "kill"));
  }
  const sum = (pick: (run: ClusterFaultRun) => number) =>
    results.reduce((total, run) => total + pick(run), 0);
  const spread = (values: number[]) =>
    `${Math.min(...values)}–${median(values)}–${Math.max(...values)} ms`;
  const failed = sum(({ stats }) => stats.failed);
  const lost = sum(({ verdict }) => verdict.acknowledgedLost);
  const loggedOut = sum(({ verdict, stats }) => verdict.loggedOut + stats.loggedOut);
  const slow = results.filter(
    (run) => run.failedShardStallMs > run.clusterRecoveryMs + 500 || run.otherShardsStallMs > 1_000,
  ).length;
  console.log(
    [
      `summary: ${results.length} runs, ${sum(({ stats }) => stats.requests)} requests, ` +
        `${failed} failed, ${lost} acknowledged writes lost, ${loggedOut} users logged out`,
      `  Cluster recovery (min–median–max): ${spread(results.map((run) => run.clusterRecoveryMs))}`,
      `  longest stall, failed shard: ${spread(results.map((run) => run.failedShardStallMs))}`,
      `  longest stall, other shards: ${spread(results.map((run) => run.otherShardsStallMs))}`,
      `  runs past the stall bounds: ${slow}`,
    ].join("\n"),
  );
  return failed > 0 || lost > 0 || loggedOut > 0 || slow > 0 ? 1 : 0;
}
