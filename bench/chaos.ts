// `npm run chaos [-- --runs 20 --down-after 1000 --instances 1 --fault kill --server redis]`: the
// Sentinel master fault of the test suite — a SIGKILL, or a planned failover (`--fault
// switchover`: SENTINEL FAILOVER, every node stays up) — run again and again on a fresh topology
// of Redis 7.0 or Valkey 8 (`--server valkey`). One line per run, then a summary; exits 1 if any
// run failed a request, lost an acknowledged write or logged someone out. Runs in which Sentinel
// failed over twice (it declared the just-promoted master down too) are named apart, from
// Sentinel's own events, and held to the same bar.
// `npm run chaos -- --fault crash-all [--runs 5 --server valkey]`: every data node and Sentinel
// SIGKILLed at once under load, with unsynced AOF writes lost as on a machine crash
// (harness/crash), run by turns with `durability.fsync` and without (bench/crashAllChaos.ts).
// `npm run chaos -- --cluster [--runs 10 --fault kill|freeze|failover --replicas 1]`: the same on a
// Redis Cluster (bench/clusterChaos.ts).
import { parseArgs } from "node:util";
import { masterKill } from "../harness/masterKill.js";
import type { MasterFault, MasterKillRun } from "../harness/masterKill.js";
import type { ClusterFault } from "../harness/clusterFailover.js";
import { SERVER_KINDS } from "../harness/serverKind.js";
import type { ServerKind } from "../harness/serverKind.js";
import { median } from "./measure.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string" },
    "down-after": { type: "string", default: "1000" },
    "failover-timeout": { type: "string", default: "3000" },
    instances: { type: "string", default: "1" },
    cluster: { type: "boolean", default: false },
    fault: { type: "string", default: "kill" },
    server: { type: "string", default: "redis" },
    replicas: { type: "string", default: "2" },
  },
});
if (!SERVER_KINDS.includes(values.server as ServerKind)) {
  process.stderr.write(`--server must be redis or valkey; got ${values.server}\n`);
  process.exit(2);
}
const kind = values.server as ServerKind;
if (values.cluster) {
  const fault = values.fault as ClusterFault;
  if (!["kill", "freeze", "failover"].includes(fault)) {
    process.stderr.write(`--fault must be kill, freeze or failover on a Cluster\n`);
    process.exit(2);
  }
  const { clusterChaos } = await import("./clusterChaos.js");
  process.exit(
    await clusterChaos(Number(values.runs ?? "10"), {
      fault,
      kind,
      replicasPerMaster: Number(values.replicas),
    }),
  );
}
if (values.fault === "crash-all" || values.fault === "crash-all-fsync") {
  const { crashAllChaos } = await import("./crashAllChaos.js");
  process.exit(await crashAllChaos(Number(values.runs ?? "5"), kind));
}
if (!["kill", "switchover"].includes(values.fault)) {
  process.stderr.write(`--fault must be kill, switchover or crash-all; got ${values.fault}\n`);
  process.exit(2);
}
const fault = values.fault as MasterFault;
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

const what = fault === "kill" ? "master SIGKILL" : "SENTINEL FAILOVER";
console.log(
  `${what} × ${runs} on ${kind}: down-after-milliseconds ${downAfterMs}, failover-timeout ` +
    `${failoverTimeoutMs}, ${instances} app instance(s), 20 users, default durability`,
);
const results: MasterKillRun[] = [];
for (let run = 1; run <= runs; run++) {
  results.push(
    await masterKill({
      name: `run ${run}/${runs}`,
      downAfterMs,
      failoverTimeoutMs,
      instances,
      fault,
      kind,
    }),
  );
}

const clean = results.filter(({ failovers }) => failovers === 1);
const twice = results.filter(({ failovers }) => failovers > 1);
const sum = (list: MasterKillRun[], pick: (run: MasterKillRun) => number) =>
  list.reduce((total, run) => total + pick(run), 0);
const spread = (values: number[]) =>
  values.length === 0 ? "-" : `${Math.min(...values)}–${median(values)}–${Math.max(...values)} ms`;
const lost = sum(results, ({ verdict }) => verdict.acknowledgedLost);
const loggedOut = sum(results, ({ verdict, stats }) => verdict.loggedOut + stats.loggedOut);
const failed = sum(results, ({ stats }) => stats.failed);
console.log(
  [
    `summary: ${results.length} runs, ${clean.length} with one Sentinel failover, ${twice.length} in ` +
      "which Sentinel failed over more than once",
    `  all runs: ${sum(results, ({ stats }) => stats.requests)} requests, ${failed} failed, ` +
      `${lost} acknowledged writes lost, ${loggedOut} users logged out`,
    `  longest stall (min–median–max): ${spread(results.map(({ stats }) => stats.longestStallMs))}`,
    `  first write acknowledged after +switch-master (min–median–max): ${spread(
      clean.flatMap(({ pickUpMs }) => (pickUpMs === undefined ? [] : [pickUpMs])),
    )}`,
    `  more than one failover: ${sum(twice, ({ stats }) => stats.failed)} failed requests`,
  ].join("\n"),
);
process.exit(lost > 0 || loggedOut > 0 || failed > 0 ? 1 : 0);
