// The crash of every node (see chaos.ts, `--fault crash-all`): `runs` pairs, each a run with
// `durability: { fsync: true }` then one with the default durability (the control), on a fresh
// topology each. Exits 1 if a run with the fsync tier lost an acknowledged write or logged
// someone out.
import { crashAll } from "../harness/crash/crashAll.js";
import type { CrashAllRun } from "../harness/crash/crashAll.js";
import type { ServerKind } from "../harness/serverKind.js";

export async function crashAllChaos(runs: number, kind: ServerKind): Promise<number> {
  console.log(
    `every node SIGKILLed at once × ${runs} pairs on ${kind}: master + 2 replicas (unsynced ` +
      "AOF writes lost as on a machine crash), 3 Sentinels, 2 app instances, 20 users; " +
      "durability.fsync on appendfsync always, then the default durability on appendfsync " +
      "everysec (control)",
  );
  const tier: CrashAllRun[] = [];
  const control: CrashAllRun[] = [];
  for (let run = 1; run <= runs; run++) {
    tier.push(await crashAll({ name: `run ${run}/${runs}, fsync`, fsync: true, kind }));
    control.push(await crashAll({ name: `run ${run}/${runs}, control`, fsync: false, kind }));
  }
  const line = (label: string, list: CrashAllRun[]) => {
    const lost = list.map(({ verdict }) => verdict.acknowledgedLost);
    const before = list.reduce((n, run) => n + run.acknowledgedBefore, 0);
    return `  ${label}: ${lost.reduce((a, b) => a + b, 0)} acknowledged writes lost (by run: ${lost.join(", ")}) of ${before} acknowledged before the crashes`;
  };
  console.log(["summary:", line("durability.fsync", tier), line("default", control)].join("\n"));
  const failed = tier.some(
    ({ verdict, stats }) => verdict.acknowledgedLost > 0 || verdict.loggedOut + stats.loggedOut > 0,
  );
  return failed ? 1 : 0;
}
