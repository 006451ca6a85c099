// `npm run bench -- --cache [--rounds 5 --duration 5 --connections 20]`: the same Express route,
// `GET /products/:id` over 1 000 products, through this library's cache (Redis only, and with its
// local tier), Bentocache (Redis tier, and two tiers with its bus) and cache-manager with its
// Redis store (@keyv/redis), one app process each on one Redis node, interleaved round by round
// after every product was loaded once: cache hits. Per round: req/s, Redis commands per request
// (INFO commandstats) and Redis CPU per request. The peers live in bench/peers/ (installed from
// its lockfile on first use). Prints medians and paired ratios. Then the fleet figures for each
// library (bench/cacheFleet.ts): database reads per stampede, stale keys after a random workload.
// `--cache-part speed` or `fleet` runs one of the two. Writes bench/results/<date>-cache.json.
import { execFileSync, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { createInterface } from "node:readline";
import autocannon from "autocannon";
import { Redis } from "ioredis";
import { format } from "prettier";
import { SingleNodeStack } from "../harness/stacks.js";
import { cacheFleetBench } from "./cacheFleet.js";
import type { FleetFigures } from "./cacheFleet.js";
import { commitOf, median, processCpuMicros, redisCpuMicros } from "./measure.js";
import { CACHE_SECTION, withSection } from "./report.js";

const LIBRARIES = [
  "redis-ha-session",
  "redis-ha-session-local",
  "bentocache",
  "bentocache-two-tier",
  "cache-manager",
] as const;
/** The speed part also runs the route with no cache at all: the ceiling any cache can reach here. */
const SPEED_RUNS = [...LIBRARIES, "no-cache"] as const;
const PRODUCTS = 1_000;

interface Round {
  library: string;
  requestsPerSecond: number;
  commandsPerRequest: number;
  redisCpuMicrosPerRequest: number;
  /** The app process's CPU per request: on 2 cores the load generator bounds req/s first. */
  appCpuMicrosPerRequest: number;
  /** The cache alone, in the app's process without HTTP: getOrLoad hits per second. */
  inProcessHitsPerSecond: number;
  inProcessCpuMicrosPerHit: number;
  /** Redis CPU per hit of that loop: without HTTP, less of the machine's noise. */
  inProcessRedisCpuMicrosPerHit: number;
}

async function startApp(root: string, library: string, port: number, baseline = "") {
  const child = spawn(process.execPath, ["--import", "tsx", "bench/peers/cacheApp.ts"], {
    cwd: root,
    env: {
      ...process.env,
      BENCH_CACHE: library,
      BENCH_REDIS_PORT: String(port),
      BENCH_BASELINE: baseline,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const listening = await new Promise<number>((resolve, reject) => {
    lines.once("line", (line) => resolve((JSON.parse(line) as { listening: number }).listening));
    child.once("exit", (code) => reject(new Error(`${library} app exited with ${String(code)}`)));
  });
  return { child, url: `http://127.0.0.1:${listening}` };
}

async function commandCalls(client: Redis): Promise<number> {
  const stats = await client.info("commandstats");
  let calls = 0;
  for (const match of stats.matchAll(/^cmdstat_[^:]+:calls=(\d+)/gm)) calls += Number(match[1]);
  return calls;
}

interface CacheBenchOptions {
  root: string;
  rounds: number;
  duration: number;
  connections: number;
  /** "speed" (hits through the route), "fleet" (stampede and stale sets), or both. */
  parts: readonly string[];
  /**
   * A checkout of another commit, built: only its cache against this one's, hits through the
   * route, paired (what a change did to the hit path). Writes
   * <date>-cache-baseline-<its commit>.json.
   */
  baseline?: string | undefined;
}

export async function cacheBench(options: CacheBenchOptions): Promise<void> {
  if (options.baseline !== undefined) {
    await baselineBench(options, options.baseline);
    return;
  }
  const { root, parts } = options;
  if (!existsSync(`${root}bench/peers/node_modules`)) {
    process.stdout.write("installing the peers (bench/peers, npm ci)…\n");
    execFileSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: `${root}bench/peers` });
  }
  const lines = [
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, Node ${process.version}`,
    `command: npm run bench -- --cache --cache-part ${parts.join(",")} --rounds ${options.rounds} ` +
      `--duration ${options.duration} --connections ${options.connections}`,
  ];
  let rounds: Round[] = [];
  if (parts.includes("speed")) {
    const speed = await speedBench(options);
    rounds = speed.rounds;
    lines.push(...speed.lines);
  }
  let fleet: FleetFigures[] = [];
  if (parts.includes("fleet")) {
    process.stdout.write("fleet figures: 4 processes per library on one Redis node\n");
    fleet = await cacheFleetBench(root, (line) => process.stdout.write(`${line}\n`));
    lines.push(...fleetLines(fleet));
  }
  process.stdout.write(`\n${lines.join("\n")}\n`);
  const date = new Date().toISOString();
  await mkdir(`${root}bench/results`, { recursive: true });
  await writeFile(
    `${root}bench/results/${date.slice(0, 10)}-cache.json`,
    await format(JSON.stringify({ date, lines, rounds, fleet }), { parser: "json" }),
  );
  if (parts.includes("speed") && parts.includes("fleet")) {
    const path = `${root}docs/benchmarks.md`;
    const doc = await readFile(path, "utf8").catch(() => "# Benchmarks\n");
    await writeFile(
      path,
      await format(withSection(doc, CACHE_SECTION, cacheSection(date, lines)), {
        parser: "markdown",
        proseWrap: "preserve",
      }),
    );
  }
}

/** The DB cache section of docs/benchmarks.md: how it is measured, and this run's lines. */
function cacheSection(date: string, lines: string[]): string {
  return [
    `## ${CACHE_SECTION}`,
    "",
    "`npm run bench -- --cache` (`bench/cache.ts`, `bench/cacheFleet.ts`) compares this library's",
    "cache (Redis only, and with its local tier) with Bentocache 1.6.1 (its Redis tier, and two",
    "tiers with its Redis bus) and cache-manager 7.2.9 with @keyv/redis 5.1.6, from `bench/peers/`",
    "(a lockfile of its own: Bentocache needs ioredis 5), all on one Redis node on this machine.",
    "",
    "- **Hits**: one app process per library serving `GET /products/:id` over 1 000 products, all",
    "  loaded once before; autocannon drives each in turn, rounds interleaved (the order reversed",
    "  every other round); Redis commands from `INFO commandstats`, Redis and app CPU per request",
    "  from `INFO cpu` and `/proc`. Ratios are medians of per-round paired ratios.",
    "- **Fleet**: 4 processes per library, their loaders reading one database stand-in over HTTP.",
    "  Stampede: 500 concurrent `getOrLoad` of one cold key in each process, the database read",
    "  taking 100 ms; the database counts its reads (three cold keys). Stale sets: 10 000 random",
    "  `getOrLoad`, write-throughs and update-then-invalidate over 100 keys (20 at a time per",
    "  process, pauses of up to 20 ms between each database access and the cache's set); a",
    "  peer's write-through is its documented pattern, the database write then its `set`. A",
    "  second after the load stops, a key is stale if any process would serve a value other",
    "  than the database's.",
    "",
    "What bounds the hit figures here: CPU profiles of one app under the same load (2026-12-04,",
    "commit 0d7484e's message; the profiles were not kept) found the cache's own code a small part",
    "of the app's CPU on a hit, for every library, and the rest Express, HTTP and the kernel's",
    "socket writes; on this 2-core machine, where autocannon shares the cores, a response written",
    "in the same turn as its request cost more in `writev`, which is why the local tier is not",
    "faster than Redis-only here. The `no-cache` row is the same route answering from a `Map`, no",
    "cache at all: the most any cache can reach on this route and machine.",
    "",
    `Latest run: ${date}.`,
    "",
    "```text",
    ...lines,
    "```",
  ].join("\n");
}

function fleetLines(fleet: FleetFigures[]): string[] {
  const ours = fleet.filter((figures) => figures.library.startsWith("redis-ha-session"));
  return [
    "stampede (4 processes × 500 concurrent getOrLoad of a cold key, database read 100 ms), " +
      "stale sets (10 000 random loads, write-throughs, invalidations over 100 keys, pauses ≤ 20 ms):",
    ...fleet.map(
      (figures) =>
        `  ${figures.library.padEnd(24)} ${figures.stampedeLoads.join(", ")} database reads per ` +
        `cold key · ${figures.staleKeys} of ${figures.cachedKeys} cached keys stale afterwards · ` +
        `${figures.failedOperations} operations failed`,
    ),
    `  ${target(ours.every((figures) => figures.stampedeLoads.every((loads) => loads === 1)))}  ` +
      "exactly 1 load per cold key across the fleet",
    `  ${target(ours.every((figures) => figures.staleKeys === 0))}  0 stale keys after the workload`,
  ];
}

/** The median over rounds of `library`'s figure over `other`'s in the same round. */
function pairedMedian(
  rounds: readonly Round[],
  library: string,
  other: string,
  pick: (round: Round) => number,
): number {
  const mine = rounds.filter((round) => round.library === library);
  const theirs = rounds.filter((round) => round.library === other);
  return median(mine.map((round, i) => pick(round) / (theirs[i] ? pick(theirs[i]) : NaN)));
}

/** This library's hit path against another commit's build of it (see CacheBenchOptions). */
async function baselineBench(options: CacheBenchOptions, baseline: string): Promise<void> {
  const runs = ["redis-ha-session", "baseline"];
  const { rounds } = await speedBench(options, runs, baseline);
  const paired = (pick: (round: Round) => number) =>
    pairedMedian(rounds, "redis-ha-session", "baseline", pick);
  const lines = [
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, Node ${process.version}`,
    `command: npm run bench -- --cache --baseline ${baseline} --rounds ${options.rounds} ` +
      `--duration ${options.duration} --connections ${options.connections}`,
    `GET /products/:id, every product cached (hits); this build over the baseline, medians of ` +
      `${options.rounds} paired rounds:`,
    `  app CPU per hit ${paired((r) => r.appCpuMicrosPerRequest).toFixed(3)}×, Redis CPU per hit ` +
      `${paired((r) => r.redisCpuMicrosPerRequest).toFixed(3)}×, req/s ` +
      `${paired((r) => r.requestsPerSecond).toFixed(3)}×, in-process CPU per hit ` +
      `${paired((r) => r.inProcessCpuMicrosPerHit).toFixed(3)}×, in-process Redis CPU per hit ` +
      `${paired((r) => r.inProcessRedisCpuMicrosPerHit).toFixed(3)}×`,
    ...rounds.map(
      (round) =>
        `  ${round.library.padEnd(18)} ${Math.round(round.requestsPerSecond)} req/s, ` +
        `${round.appCpuMicrosPerRequest.toFixed(1)} µs app CPU, ` +
        `${round.redisCpuMicrosPerRequest.toFixed(2)} µs Redis CPU, ` +
        `${round.commandsPerRequest.toFixed(2)} commands per hit; alone ` +
        `${round.inProcessCpuMicrosPerHit.toFixed(1)} µs CPU, ` +
        `${round.inProcessRedisCpuMicrosPerHit.toFixed(2)} µs Redis CPU per hit`,
    ),
  ];
  process.stdout.write(`\n${lines.join("\n")}\n`);
  const date = new Date().toISOString();
  await mkdir(`${options.root}bench/results`, { recursive: true });
  await writeFile(
    `${options.root}bench/results/${date.slice(0, 10)}-cache-baseline-${commitOf(baseline)}.json`,
    await format(JSON.stringify({ date, baseline, lines, rounds }), { parser: "json" }),
  );
}

async function speedBench(
  { root, rounds, duration, connections }: CacheBenchOptions,
  runs: readonly string[] = SPEED_RUNS,
  baseline = "",
): Promise<{ lines: string[]; rounds: Round[] }> {
  const topology = await SingleNodeStack.start();
  const admin = new Redis(topology.server.port, "127.0.0.1");
  const apps = new Map<string, { child: ChildProcess; url: string }>();
  const results: Round[] = [];
  try {
    for (const library of runs) {
      const app = await startApp(root, library, topology.server.port, baseline);
      apps.set(library, app);
      // Every product loaded once: what follows are hits.
      for (let id = 0; id < PRODUCTS; id += 50) {
        await Promise.all(
          Array.from({ length: 50 }, (_, i) => fetch(`${app.url}/products/${id + i}`)),
        );
      }
    }
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 === 1 ? [...runs] : [...runs].reverse();
      for (const library of order) {
        const app = apps.get(library);
        const url = app?.url ?? "";
        const pid = app?.child.pid ?? 0;
        await admin.config("RESETSTAT");
        const cpuBefore = await redisCpuMicros(admin);
        const appBefore = await processCpuMicros(pid);
        const result = await autocannon({
          url,
          connections,
          duration,
          requests: [
            {
              setupRequest: (request) => ({
                ...request,
                path: `/products/${Math.floor(Math.random() * PRODUCTS)}`,
              }),
            },
          ],
        });
        const cpuAfter = await redisCpuMicros(admin);
        const appAfter = await processCpuMicros(pid);
        // CONFIG RESETSTAT and the two INFO calls are the measurement's own.
        const calls = (await commandCalls(admin)) - 3;
        const errors = result.errors + result.non2xx;
        if (errors > 0) throw new Error(`${library}: ${errors} failed requests`);
        const requests = result.requests.total;
        const loopCpuBefore = await redisCpuMicros(admin);
        const alone = (await (await fetch(`${url}/hit-loop?calls=50000`)).json()) as {
          callsPerSecond: number;
          cpuMicrosPerCall: number;
          databaseReads: number;
        };
        if (alone.databaseReads > 0) throw new Error(`${library}: the hit loop missed`);
        results.push({
          library,
          requestsPerSecond: result.requests.average,
          commandsPerRequest: calls / requests,
          redisCpuMicrosPerRequest: (cpuAfter - cpuBefore) / requests,
          appCpuMicrosPerRequest: (appAfter - appBefore) / requests,
          inProcessHitsPerSecond: alone.callsPerSecond,
          inProcessCpuMicrosPerHit: alone.cpuMicrosPerCall,
          inProcessRedisCpuMicrosPerHit: ((await redisCpuMicros(admin)) - loopCpuBefore) / 50_000,
        });
        process.stdout.write(
          `round ${round} · ${library.padEnd(24)} · ${Math.round(result.requests.average)} req/s · ` +
            `${(calls / requests).toFixed(2)} Redis commands/request\n`,
        );
      }
    }
  } finally {
    for (const { child } of apps.values()) child.kill("SIGTERM");
    admin.disconnect();
    await topology.stop();
  }
  const of = (library: string, pick: (round: Round) => number) =>
    median(results.filter((round) => round.library === library).map(pick));
  /** The paired median of `library` over `other` (req/s unless `pick` says otherwise). */
  const paired = (
    library: string,
    other: string,
    pick: (round: Round) => number = (round) => round.requestsPerSecond,
  ) => pairedMedian(results, library, other, pick);
  if (runs !== SPEED_RUNS) return { lines: [], rounds: results };
  const alone = (round: Round) => round.inProcessHitsPerSecond;
  const lines = [
    `medians of ${rounds} rounds, GET /products/:id, every product cached (hits):`,
    ...SPEED_RUNS.map(
      (library) =>
        `  ${library.padEnd(24)} ${Math.round(of(library, (r) => r.requestsPerSecond))} req/s, ` +
        `${of(library, (r) => r.commandsPerRequest).toFixed(2)} Redis commands and ` +
        `${of(library, (r) => r.redisCpuMicrosPerRequest).toFixed(1)} µs Redis CPU, ` +
        `${of(library, (r) => r.appCpuMicrosPerRequest).toFixed(0)} µs app CPU per hit`,
    ),
    `  ${target(of("redis-ha-session", (r) => r.commandsPerRequest) <= 1.0001)}  Redis commands per hit = 1: ` +
      of("redis-ha-session", (r) => r.commandsPerRequest).toFixed(2),
    `  ${target(paired("redis-ha-session", "cache-manager") >= 1)}  hit req/s ≥ 1.0 × cache-manager: ` +
      `${paired("redis-ha-session", "cache-manager").toFixed(2)}× (paired)`,
    `  ${target(paired("redis-ha-session-local", "bentocache-two-tier") >= 1.3)}  local-tier hit req/s ≥ 1.3 × ` +
      `Bentocache two-tier: ${paired("redis-ha-session-local", "bentocache-two-tier").toFixed(2)}× (paired)`,
    `  the route with no cache at all (the product from a Map): ` +
      `${paired("no-cache", "bentocache-two-tier").toFixed(2)}× Bentocache two-tier, local tier ` +
      `${paired("redis-ha-session-local", "no-cache").toFixed(2)}× no cache (paired)`,
    "the cache alone, in each app's process without HTTP (50 000 getOrLoad hits, 20 at a time):",
    ...LIBRARIES.map(
      (library) =>
        `  ${library.padEnd(24)} ${Math.round(of(library, alone))} hits/s, ` +
        `${of(library, (r) => r.inProcessCpuMicrosPerHit).toFixed(1)} µs CPU per hit`,
    ),
    `  ${paired("redis-ha-session", "cache-manager", alone).toFixed(2)}× cache-manager's hits/s, local tier ` +
      `${paired("redis-ha-session-local", "bentocache-two-tier", alone).toFixed(2)}× Bentocache two-tier's (paired)`,
  ];
  return { lines, rounds: results };
}

function target(met: boolean): string {
  return met ? "yes" : "NO ";
}
