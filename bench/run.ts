// `npm run bench [-- --rounds 5 --duration 5 --connections 20]`: one Sentinel topology, one app
// process per store, autocannon against each route, stores interleaved round after round.
// `--baseline <checkout>` adds the same app on another commit's build of this library (run
// `npm run build` there) as the store "baseline": the paired ratio to it is what a change did.
// Such a run writes bench/results/<date>-baseline-<its commit>.json and leaves docs/benchmarks.md
// alone. `--server valkey` runs the topology on Valkey 8; `--stores redis-ha-session,
// redis-ha-session-fsync --server valkey --appendfsync always` measures the fsync tier (bench/
// results/<date>-always-fsync-valkey.json; the tier needs `always` on Valkey, see Confirmations).
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { cpus } from "node:os";
import { readFileSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { format } from "prettier";
import { Redis } from "ioredis";
import { SentinelStack } from "../harness/stacks.js";
import {
  commandsPerRequest,
  commitOf,
  peakRssMiB,
  processCpuMicros,
  redisCpuMicros,
} from "./measure.js";
import { CACHE_SECTION, markdownReport, sectionOf, textTable, withSection } from "./report.js";
import type { BenchResult, Sample } from "./report.js";

const ALL_STORES = ["redis-ha-session", "connect-redis", "connect-redis-7", "memory"] as const;
const ALL_ROUTES = [
  { name: "GET /me (authenticated read)", method: "GET", path: "/me", cookie: true },
  { name: "POST /change (one key)", method: "POST", path: "/change", cookie: true },
  { name: "POST /login (new visitor)", method: "POST", path: "/login", cookie: false },
] as const;

const root = fileURLToPath(new URL("..", import.meta.url));
const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    duration: { type: "string", default: "5" },
    connections: { type: "string", default: "20" },
    // Subsets while working on one path, e.g. `--routes /me,/change --stores redis-ha-session,memory`.
    routes: { type: "string", default: ALL_ROUTES.map((route) => route.path).join(",") },
    stores: { type: "string", default: ALL_STORES.join(",") },
    server: { type: "string", default: "redis" },
    // Every data node's `appendfsync` (the servers' default: everysec).
    appendfsync: { type: "string", default: "everysec" },
    baseline: { type: "string" },
    // `--read-from replica`: only the replica-read comparison (bench/replicaReads.ts).
    "read-from": { type: "string" },
    // `--cluster`: only the write spread over a Cluster's masters (bench/clusterWrites.ts).
    cluster: { type: "boolean", default: false },
    // `--cache`: only the DB-cache comparison with Bentocache and cache-manager (bench/cache.ts).
    cache: { type: "boolean", default: false },
    // With --cache: `speed` (hit req/s) or `fleet` (stampede, stale sets); both by default.
    "cache-part": { type: "string", default: "speed,fleet" },
  },
});
const ROUTES = ALL_ROUTES.filter((route) => values.routes.split(",").includes(route.path));
const baseline = values.baseline;
const STORES = values.stores.split(",");
// Right after this library's own app, so the two meet the machine in the same state.
if (baseline !== undefined) STORES.splice(STORES.indexOf("redis-ha-session") + 1, 0, "baseline");
/** Sessions written per store and shape for the bytes-per-session figure. */
const SEEDED = 20_000;
const SHAPES = ["typical", "2 KB"] as const;

async function usedMemory(client: Redis): Promise<number> {
  return Number(/^used_memory:(\d+)/m.exec(await client.info("memory"))?.[1]);
}

const rounds = Number(values.rounds);
const duration = Number(values.duration);
const connections = Number(values.connections);

/** The packages whose versions a result records. */
const PACKAGES = [
  "express-session",
  "ioredis",
  "connect-redis",
  "connect-redis-7",
  "redis",
  "autocannon",
] as const;

function packageVersion(name: string): string {
  const manifest = readFileSync(`${root}node_modules/${name}/package.json`, "utf8");
  return (JSON.parse(manifest) as { version: string }).version;
}

async function startApp(
  store: string,
  redis: object,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "bench/app.ts"], {
    cwd: root,
    env: {
      ...process.env,
      BENCH_STORE: store,
      BENCH_REDIS: JSON.stringify(redis),
      BENCH_BASELINE: baseline ?? "",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const port = await new Promise<number>((resolve, reject) => {
    lines.once("line", (line) => resolve((JSON.parse(line) as { listening: number }).listening));
    child.once("exit", (code) => reject(new Error(`${store} app exited with ${String(code)}`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

async function loginCookie(url: string): Promise<string> {
  const response = await fetch(`${url}/login`, { method: "POST" });
  return response.headers.getSetCookie()[0]?.split(";")[0] ?? "";
}

if (values.cache) {
  const { cacheBench } = await import("./cache.js");
  await cacheBench({
    root,
    rounds: Number(values.rounds),
    duration: Number(values.duration),
    connections: Number(values.connections),
    parts: values["cache-part"].split(","),
    baseline,
  });
  process.exit(0);
}
if (values.cluster) {
  const { clusterWritesBench } = await import("./clusterWrites.js");
  await clusterWritesBench({
    root,
    duration: Number(values.duration),
    connections: Number(values.connections),
    startApp,
  });
  process.exit(0);
}
if (values["read-from"] !== undefined) {
  if (values["read-from"] !== "replica") {
    process.stderr.write('--read-from takes "replica"\n');
    process.exit(2);
  }
  const { replicaReadsBench } = await import("./replicaReads.js");
  await replicaReadsBench({
    root,
    rounds: Number(values.rounds),
    duration: Number(values.duration),
    connections: Number(values.connections),
    startApp,
  });
  process.exit(0);
}

if (values.server !== "redis" && values.server !== "valkey") {
  throw new Error(`--server must be redis or valkey; got ${values.server}`);
}
if (!["everysec", "always", "no"].includes(values.appendfsync)) {
  throw new Error(`--appendfsync must be everysec, always or no; got ${values.appendfsync}`);
}
const topology = await SentinelStack.start({
  kind: values.server,
  serverConfig: [`appendfsync ${values.appendfsync}`],
});
const masterAddress = { host: "127.0.0.1", port: (await topology.currentMaster()).port };
const master = new Redis(masterAddress.port, masterAddress.host);
const apps = new Map<string, { child: ChildProcess; url: string }>();
try {
  for (const store of STORES) apps.set(store, await startApp(store, topology.redisOption));

  // Redis bytes per session: used_memory before and after each store writes SEEDED sessions of
  // each shape on an emptied Redis (MemoryStore keeps nothing in Redis).
  const memory: Record<string, Record<string, number>> = {};
  for (const store of STORES.filter((name) => name !== "memory")) {
    const { url } = apps.get(store) ?? { url: "" };
    for (const shape of SHAPES) {
      await master.flushall("SYNC");
      const before = await usedMemory(master);
      const response = await fetch(`${url}/seed`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ count: SEEDED, shape }),
      });
      if (!response.ok) throw new Error(`${store} could not seed: ${response.status}`);
      (memory[store] ??= {})[shape] = ((await usedMemory(master)) - before) / SEEDED;
    }
  }
  await master.flushall("SYNC");

  // Commands per request, counted exactly (MONITOR), once per store and route.
  const commands: Record<string, Record<string, number>> = {};
  for (const store of STORES) {
    const { url } = apps.get(store) ?? { url: "" };
    commands[store] = {};
    for (const route of ROUTES) {
      const cookie = route.cookie ? await loginCookie(url) : "";
      const { perRequest } = await commandsPerRequest(masterAddress, async () => {
        const response = await fetch(`${url}${route.path}`, {
          method: route.method,
          headers: cookie ? { cookie } : {},
        });
        await response.arrayBuffer();
      });
      (commands[store] ??= {})[route.name] = perRequest;
    }
  }

  const samples: Sample[] = [];
  for (let round = 1; round <= rounds; round++) {
    // The order reversed every other round, so that no store always runs first (or right after
    // another route's run): a paired ratio must not carry the order's own effect.
    const order = round % 2 === 1 ? [...STORES] : [...STORES].reverse();
    for (const route of ROUTES) {
      for (const store of order) {
        const app = apps.get(store);
        const pid = app?.child.pid;
        if (app === undefined || pid === undefined) continue;
        const cookie = route.cookie ? await loginCookie(app.url) : "";
        const [appBefore, redisBefore] = await Promise.all([
          processCpuMicros(pid),
          redisCpuMicros(master),
        ]);
        const result = await autocannon({
          url: `${app.url}${route.path}`,
          method: route.method,
          headers: cookie ? { cookie } : {},
          connections,
          duration,
        });
        const [appAfter, redisAfter] = await Promise.all([
          processCpuMicros(pid),
          redisCpuMicros(master),
        ]);
        const requests = result.requests.total;
        const sample: Sample = {
          round,
          store,
          route: route.name,
          requestsPerSecond: result.requests.average,
          p50: result.latency.p50,
          p99: result.latency.p99,
          errors: result.errors + result.non2xx,
          redisCpuMicrosPerRequest: store === "memory" ? 0 : (redisAfter - redisBefore) / requests,
          appCpuMicrosPerRequest: (appAfter - appBefore) / requests,
          peakRssMiB: await peakRssMiB(pid),
        };
        samples.push(sample);
        process.stdout.write(
          `round ${round} · ${store.padEnd(16)} · ${route.name.padEnd(28)} · ${Math.round(sample.requestsPerSecond)} req/s\n`,
        );
      }
    }
  }

  const result: BenchResult = {
    date: new Date().toISOString(),
    machine: {
      cores: cpus().length,
      cpu: cpus()[0]?.model ?? "unknown",
      node: process.version,
      redis: /^redis_version:(.+)$/m.exec(await master.info("server"))?.[1]?.trim() ?? "unknown",
    },
    packages: Object.fromEntries(PACKAGES.map((name) => [name, packageVersion(name)] as const)),
    command:
      `npm run bench -- --rounds ${rounds} --duration ${duration} --connections ${connections}` +
      (ROUTES.length === ALL_ROUTES.length ? "" : ` --routes ${values.routes}`) +
      (values.stores === ALL_STORES.join(",") ? "" : ` --stores ${values.stores}`) +
      (baseline === undefined ? "" : ` --baseline ${baseline}`) +
      (values.server === "redis" ? "" : ` --server ${values.server}`) +
      (values.appendfsync === "everysec" ? "" : ` --appendfsync ${values.appendfsync}`),
    commands,
    memory,
    samples,
  };
  process.stdout.write(`\n${textTable(result)}\n`);
  await mkdir(`${root}bench/results`, { recursive: true });
  // The fsync tier's cost (`--stores redis-ha-session,redis-ha-session-fsync --server valkey`)
  // is a file of its own, as a baseline run is; neither rewrites docs/benchmarks.md.
  const fsync = STORES.includes("redis-ha-session-fsync");
  const name =
    result.date.slice(0, 10) +
    (baseline === undefined ? "" : `-baseline-${commitOf(baseline)}`) +
    (values.appendfsync === "everysec" ? "" : `-${values.appendfsync}`) +
    (fsync ? `-fsync-${values.server}` : values.server === "redis" ? "" : `-${values.server}`);
  await writeFile(`${root}bench/results/${name}.json`, `${JSON.stringify(result, null, 2)}\n`);
  if (
    baseline === undefined &&
    !fsync &&
    values.server === "redis" &&
    values.appendfsync === "everysec"
  ) {
    await mkdir(`${root}docs`, { recursive: true });
    // Formatted as the repository's Prettier check expects.
    // The DB cache bench's section (`--cache`) is its own: kept as it is.
    const before = await readFile(`${root}docs/benchmarks.md`, "utf8").catch(() => "");
    const markdown = await format(
      withSection(markdownReport(result), CACHE_SECTION, sectionOf(before, CACHE_SECTION)),
      { parser: "markdown", proseWrap: "preserve" },
    );
    await writeFile(`${root}docs/benchmarks.md`, markdown);
  }
} finally {
  for (const { child } of apps.values()) child.kill("SIGTERM");
  await master.quit();
  await topology.stop();
}
