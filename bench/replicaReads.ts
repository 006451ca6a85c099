// `npm run bench -- --read-from replica [--rounds 5 --duration 5 --connections 20]`: authenticated
// GETs on redis-ha-session reading from the master and with `readFrom: "replica"`, interleaved
// round by round on one Sentinel topology (a master, 2 replicas); per round, req/s, the master's
// CPU per GET (INFO cpu) and where the HGETALLs went (INFO commandstats on every node). Prints
// the medians and writes bench/results/<date>-read-from-replica.json.
import type { ChildProcess } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import autocannon from "autocannon";
import { format } from "prettier";
import { Redis } from "ioredis";
import { SentinelStack } from "../harness/stacks.js";
import { median, redisCpuMicros } from "./measure.js";

const STORES = ["redis-ha-session", "redis-ha-session-replica"] as const;

interface Round {
  store: string;
  requestsPerSecond: number;
  masterCpuMicrosPerGet: number;
  /** HGETALLs each node served, the master first. */
  hgetall: number[];
}

export async function replicaReadsBench({
  root,
  rounds,
  duration,
  connections,
  startApp,
}: {
  root: string;
  rounds: number;
  duration: number;
  connections: number;
  startApp: (store: string, redis: object) => Promise<{ child: ChildProcess; url: string }>;
}): Promise<void> {
  const topology = await SentinelStack.start();
  const masterServer = await topology.currentMaster();
  const nodes = [masterServer, ...topology.servers.filter((server) => server !== masterServer)];
  const clients = nodes.map((node) => new Redis(node.port, "127.0.0.1"));
  const [masterClient] = clients;
  if (masterClient === undefined) throw new Error("no master");
  const apps = new Map<string, { child: ChildProcess; url: string }>();
  const results: Round[] = [];
  try {
    for (const store of STORES) apps.set(store, await startApp(store, topology.redisOption));
    for (let round = 1; round <= rounds; round++) {
      // The order alternates, so that neither store always runs on a machine warmed by the other.
      for (const store of round % 2 === 1 ? STORES : [...STORES].reverse()) {
        const url = apps.get(store)?.url ?? "";
        const login = await fetch(`${url}/login`, { method: "POST" });
        const cookie = login.headers
          .getSetCookie()
          .map((line) => line.split(";")[0])
          .join("; ");
        // Replicas qualify once they have what the master had 200 ms ago.
        await new Promise((resolve) => setTimeout(resolve, 500));
        await Promise.all(clients.map((client) => client.config("RESETSTAT")));
        const cpuBefore = await redisCpuMicros(masterClient);
        const result = await autocannon({
          url: `${url}/me`,
          headers: { cookie },
          connections,
          duration,
        });
        const cpuAfter = await redisCpuMicros(masterClient);
        const hgetall = await Promise.all(
          clients.map(async (client) => {
            const stats = await client.info("commandstats");
            return Number(/^cmdstat_hgetall:calls=(\d+)/m.exec(stats)?.[1] ?? 0);
          }),
        );
        const errors = result.errors + result.non2xx;
        if (errors > 0) throw new Error(`${store}: ${errors} failed GETs`);
        results.push({
          store,
          requestsPerSecond: result.requests.average,
          masterCpuMicrosPerGet: (cpuAfter - cpuBefore) / result.requests.total,
          hgetall,
        });
        process.stdout.write(
          `round ${round} · ${store.padEnd(26)} · ${Math.round(result.requests.average)} req/s · ` +
            `HGETALL by node (master first) ${hgetall.join(" / ")}\n`,
        );
      }
    }
  } finally {
    for (const { child } of apps.values()) child.kill("SIGTERM");
    for (const client of clients) client.disconnect();
    await topology.stop();
  }
  const of = (store: string, pick: (round: Round) => number) =>
    median(results.filter((round) => round.store === store).map(pick));
  const [masterOnly, replica] = STORES;
  // Paired: each round's replica req/s over the same round's master-only req/s, then the median.
  const paired = (pick: (round: Round) => number) =>
    median(
      results
        .filter((round) => round.store === replica)
        .map((round, i) => {
          const other = results.filter((candidate) => candidate.store === masterOnly)[i];
          return other === undefined ? Number.NaN : pick(round) / pick(other);
        }),
    );
  const rps = paired((r) => r.requestsPerSecond);
  const cpu =
    of(replica, (r) => r.masterCpuMicrosPerGet) / of(masterOnly, (r) => r.masterCpuMicrosPerGet);
  const share = of(replica, (r) => (r.hgetall[0] ?? 0) / r.hgetall.reduce((a, b) => a + b, 0));
  const lines = [
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, Node ${process.version}`,
    `command: npm run bench -- --read-from replica --rounds ${rounds} --duration ${duration} --connections ${connections}`,
    `medians of ${rounds} rounds, GET /me (authenticated, unchanged session):`,
    `  ${target(share <= 0.1)}  master's share of HGETALLs ≤ 10 %: ${(share * 100).toFixed(1)} %`,
    `  ${target(cpu <= 0.5)}  master CPU per GET ≤ 0.5 × master-only: ${cpu.toFixed(2)}× ` +
      `(${of(replica, (r) => r.masterCpuMicrosPerGet).toFixed(1)} vs ${of(masterOnly, (r) => r.masterCpuMicrosPerGet).toFixed(1)} µs)`,
    `  ${target(rps >= 0.95)}  req/s ≥ 0.95 × master-only: ${rps.toFixed(3)}× (median of the rounds' ratios; medians ` +
      `${Math.round(of(replica, (r) => r.requestsPerSecond))} vs ${Math.round(of(masterOnly, (r) => r.requestsPerSecond))})`,
  ];
  process.stdout.write(`\n${lines.join("\n")}\n`);
  await mkdir(`${root}bench/results`, { recursive: true });
  await writeFile(
    `${root}bench/results/${new Date().toISOString().slice(0, 10)}-read-from-replica.json`,
    await format(JSON.stringify({ date: new Date().toISOString(), lines, rounds: results }), {
      parser: "json",
    }),
  );
}

function target(met: boolean): string {
  return met ? "yes" : "NO ";
}
