// `npm run bench -- --cache [--rounds 5 --duration 5 --connections 20]`: the same Express route,
// `GET /products/:id` over 1 000 products, through this library's cache (Redis only, and with its
// local tier), Bentocache (Redis tier, and two tiers with its bus) and cache-manager with its
// Redis store (@keyv/redis), one app process each on one Redis node, interleaved round by round
// after every product was loaded once: cache hits. Per round: req/s, Redis commands per request
// (INFO commandstats) and Redis CPU per request. The peers live in bench/peers/ (installed from
// its lockfile on first use). Prints medians and paired ratios; writes
// bench/results/<date>-cache.json.
import { execFileSync, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { createInterface } from "node:readline";
import autocannon from "autocannon";
import { Redis } from "ioredis";
import { format } from "prettier";
import { SingleNodeStack } from "../harness/stacks.js";
import { median, processCpuMicros, redisCpuMicros } from "./measure.js";

const LIBRARIES = [
  "redis-ha-session",
  "redis-ha-session-local",
  "bentocache",
  "bentocache-two-tier",
  "cache-manager",
] as const;
const PRODUCTS = 1_000;

interface Round {
  library: string;
  requestsPerSecond: number;
  commandsPerRequest: number;
  redisCpuMicrosPerRequest: number;
  /** The app process's CPU per request: on 2 cores the load generator bounds req/s first. */
  appCpuMicrosPerRequest: number;
}

async function startApp(root: string, library: string, port: number) {
  const child = spawn(process.execPath, ["--import", "tsx", "bench/peers/cacheApp.ts"], {
    cwd: root,
    env: { ...process.env, BENCH_CACHE: library, BENCH_REDIS_PORT: String(port) },
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

export async function cacheBench({
  root,
  rounds,
  duration,
  connections,
}: {
  root: string;
  rounds: number;
  duration: number;
  connections: number;
}): Promise<void> {
  if (!existsSync(`${root}bench/peers/node_modules`)) {
    process.stdout.write("installing the peers (bench/peers, npm ci)…\n");
    execFileSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: `${root}bench/peers` });
  }
  const topology = await SingleNodeStack.start();
  const admin = new Redis(topology.server.port, "127.0.0.1");
  const apps = new Map<string, { child: ChildProcess; url: string }>();
  const results: Round[] = [];
  try {
    for (const library of LIBRARIES) {
      const app = await startApp(root, library, topology.server.port);
      apps.set(library, app);
      // Every product loaded once: what follows are hits.
      for (let id = 0; id < PRODUCTS; id += 50) {
        await Promise.all(
          Array.from({ length: 50 }, (_, i) => fetch(`${app.url}/products/${id + i}`)),
        );
      }
    }
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 === 1 ? [...LIBRARIES] : [...LIBRARIES].reverse();
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
        results.push({
          library,
          requestsPerSecond: result.requests.average,
          commandsPerRequest: calls / requests,
          redisCpuMicrosPerRequest: (cpuAfter - cpuBefore) / requests,
          appCpuMicrosPerRequest: (appAfter - appBefore) / requests,
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
  /** The median over rounds of `library`'s req/s over `other`'s in the same round. */
  const paired = (library: string, other: string) => {
    const mine = results.filter((round) => round.library === library);
    const theirs = results.filter((round) => round.library === other);
    return median(
      mine.map((round, i) => round.requestsPerSecond / (theirs[i]?.requestsPerSecond ?? NaN)),
    );
  };
  const lines = [
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, Node ${process.version}`,
    `command: npm run bench -- --cache --rounds ${rounds} --duration ${duration} --connections ${connections}`,
    `medians of ${rounds} rounds, GET /products/:id, every product cached (hits):`,
    ...LIBRARIES.map(
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
  ];
  process.stdout.write(`\n${lines.join("\n")}\n`);
  await mkdir(`${root}bench/results`, { recursive: true });
  await writeFile(
    `${root}bench/results/${new Date().toISOString().slice(0, 10)}-cache.json`,
    await format(JSON.stringify({ date: new Date().toISOString(), lines, rounds: results }), {
      parser: "json",
    }),
  );
}

function target(met: boolean): string {
  return met ? "yes" : "NO ";
}
