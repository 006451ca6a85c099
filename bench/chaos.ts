// `npm run chaos -- --cluster [--runs 10]`: the same on a Redis Cluster (bench/clusterChaos.ts).
// `npm run chaos [-- --runs 20 --down-after 1000 --instances 1]`: the master SIGKILL scenario of
// the test suite, run again and again on a fresh topology each time. One line per run, then a
// summary; exits 1 if any run lost an acknowledged write or logged someone out, or if a run with
// a single Sentinel failover failed a request. Runs in which Sentinel failed over twice (it
// declared the just-promoted master down too) are counted apart, from Sentinel's own events.
import { parseArgs } from "node:util";
import { masterKill } from "../harness/masterKill.js";
import { median } from "./measure.js";
import type { MasterKillRun } from "../harness/masterKill.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string" },
    "down-after": { type: "string", default: "1000" },
    "failover-timeout": { type: "string", default: "3000" },
    instances: { type: "string", default: "1" },
    cluster: { type: "boolean", default: false },
  },
});
if (values.cluster) {
  const { clusterChaos } = await import("./clusterChaos.js");
  process.exit(await clusterChaos(Number(values.runs ?? "10")));
}
const runs = Number(values.runs ?? "20");
const downAfterMs = Number(values["down-after"]);
const failoverTimeoutMs = Number(values["failover-timeout"]);
const instances = Number(values.instances);
for (const [name, value] of Object.entries({ runs, downAfterMs, failoverTimeoutMs, instances })) {
  if (!Number.isInteger(value) || value < 1) {
    process.stderr.write(`${name} must be a whole number ≥ 1\n`);
    process.exit(2);
  }
}

console.log(
  `master SIGKILL × ${runs}: down-after-milliseconds ${downAfterMs}, failover-timeout ` +
    `${failoverTimeoutMs}, ${instances} app instance(s), 20 users, durability 1 replica`,
);
const results: MasterKillRun[] = [];
for (let run = 1; run <= runs; run++) {
  results.push(
    await masterKill({
      name: `run ${run}/${runs}`,
      downAfterMs,
      failoverTimeoutMs,
      instances,
    }),
  );
}

const clean = results.filter(({ failovers }) => failovers === 1);
const apart = results.length - clean.length;
const sum = (list: MasterKillRun[], pick: (run: MasterKillRun) => number) =>
  list.reduce((total, run) => total + pick(run), 0);
const spread = (values: number[]) =>
  values.length === 0 ? "-" : `${Math.min(...values)}–${median(values)}–${Math.max(...values)} ms`;
const lost = sum(results, ({ verdict }) => verdict.acknowledgedLost);
const loggedOut = sum(results, ({ verdict, stats }) => verdict.loggedOut + stats.loggedOut);
const failedClean = sum(clean, ({ stats }) => stats.failed);
console.log(
  [
    `summary: ${results.length} runs, ${clean.length} with one Sentinel failover, ${apart} in ` +
      "which Sentinel failed over more than once (counted apart)",
    `  one failover: ${sum(clean, ({ stats }) => stats.requests)} requests, ${failedClean} ` +
      `failed, ${sum(clean, ({ verdict }) => verdict.acknowledgedLost)} acknowledged writes lost`,
    `  longest stall (min–median–max): ${spread(clean.map(({ stats }) => stats.longestStallMs))}`,
    `  first write acknowledged after +switch-master (min–median–max): ${spread(
      clean.flatMap(({ pickUpMs }) => (pickUpMs === undefined ? [] : [pickUpMs])),
    )}`,
    `  more than one failover: ${sum(
      results.filter(({ failovers }) => failovers > 1),
      ({ stats }) => stats.failed,
    )} failed requests (503 while the last master had no replica)`,
    `  all runs: ${lost} acknowledged writes lost, ${loggedOut} users logged out`,
  ].join("\n"),
);
process.exit(lost > 0 || loggedOut > 0 || failedClean > 0 ? 1 : 0);
