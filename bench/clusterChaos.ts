// `npm run chaos -- --cluster [--runs 10 --fault kill|freeze|failover --replicas 2 --server
// redis]`: the Cluster master fault of the test suite (a SIGKILL, a 5 s SIGSTOP, or a CLUSTER
// FAILOVER; 3 shards of a master and `--replicas` replicas, 2 app instances, 20 users), on a
// fresh Cluster each run. One line per run, then a summary; exits 1 if any run failed a request, lost an
// acknowledged write, logged someone out, or stalled the failed shard past the Cluster's own
// recovery + 500 ms or another shard past 1 s.
import { clusterFault } from "../harness/clusterFailover.js";
import type { ClusterFault, ClusterFaultRun } from "../harness/clusterFailover.js";
import type { ServerKind } from "../harness/serverKind.js";
import { median } from "./measure.js";

const FAULT_NAMES: Record<ClusterFault, string> = {
  kill: "Cluster master SIGKILL",
  freeze: "Cluster master SIGSTOP 5 s",
  failover: "CLUSTER FAILOVER",
};

export async function clusterChaos(
  runs: number,
  {
    fault,
    kind,
    replicasPerMaster,
  }: { fault: ClusterFault; kind: ServerKind; replicasPerMaster: number },
): Promise<number> {
  console.log(
    `${FAULT_NAMES[fault]} × ${runs} on ${kind}: 3 masters × ${replicasPerMaster} replica(s), ` +
      "cluster-node-timeout 2000, 2 app instances, 20 users, default durability",
  );
  const results: ClusterFaultRun[] = [];
  for (let run = 1; run <= runs; run++) {
    results.push(await clusterFault(`run ${run}/${runs}`, fault, {}, { replicasPerMaster, kind }));
  }
  const sum = (pick: (run: ClusterFaultRun) => number) =>
    results.reduce((total, run) => total + pick(run), 0);
  const spread = (values: number[]) =>
    `${Math.min(...values)}–${median(values)}–${Math.max(...values)} ms`;
  const failed = sum(({ stats }) => stats.failed);
  const lost = sum(({ verdict }) => verdict.acknowledgedLost);
  const loggedOut = sum(({ verdict, stats }) => verdict.loggedOut + stats.loggedOut);
  // A freeze's stall is the freeze itself: only the other shards' bound applies.
  const slow = results.filter(
    (run) =>
      (fault !== "freeze" && run.failedShardStallMs > run.clusterRecoveryMs + 500) ||
      run.otherShardsStallMs > 1_000,
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
