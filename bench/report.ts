import { median } from "./measure.js";

/** One autocannon run of one store on one route. */
export interface Sample {
  round: number;
  store: string;
  route: string;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
  redisCpuMicrosPerRequest: number;
  appCpuMicrosPerRequest: number;
  peakRssMiB: number;
}

export interface BenchResult {
  date: string;
  machine: { cores: number; cpu: string; node: string; redis: string };
  /** Versions of the packages compared, from node_modules. */
  packages: Record<string, string>;
  command: string;
  /** Commands the app sent to Redis per request, by store and route (MONITOR). */
  commands: Record<string, Record<string, number>>;
  /**
   * Redis bytes per session (used_memory delta over 20 000 sessions), by store and shape:
   * "typical" (a cookie, a small user object, a 3-item cart) and "2 KB" (12 keys).
   */
  memory?: Record<string, Record<string, number>>;
  samples: Sample[];
}

const OURS = "redis-ha-session";

interface Row {
  route: string;
  store: string;
  cells: string[];
}

/** `median (min–max)` of one figure over the rounds. */
function spread(values: number[], digits = 0): string {
  const fmt = (value: number) => value.toFixed(digits);
  return `${fmt(median(values))} (${fmt(Math.min(...values))}–${fmt(Math.max(...values))})`;
}

/** Medians of per-round ratios ours / theirs: paired, so a slow round slows both sides. */
function pairedRatio(
  result: BenchResult,
  route: string,
  store: string,
  pick: (s: Sample) => number,
): number {
  const ratios: number[] = [];
  for (const ours of result.samples.filter((s) => s.store === OURS && s.route === route)) {
    const theirs = result.samples.find(
      (s) => s.store === store && s.route === route && s.round === ours.round,
    );
    if (theirs && pick(theirs) > 0) ratios.push(pick(ours) / pick(theirs));
  }
  return median(ratios);
}

function rows(result: BenchResult): Row[] {
  const routes = [...new Set(result.samples.map((s) => s.route))];
  const stores = [...new Set(result.samples.map((s) => s.store))];
  return routes.flatMap((route) =>
    stores.map((store) => {
      const samples = result.samples.filter((s) => s.route === route && s.store === store);
      const of = (pick: (s: Sample) => number) => samples.map(pick);
      const ratio =
        store === OURS
          ? "—"
          : `${pairedRatio(result, route, store, (s) => s.requestsPerSecond).toFixed(2)}× req/s, ` +
            (store === "memory"
              ? "—"
              : `${pairedRatio(result, route, store, (s) => s.redisCpuMicrosPerRequest).toFixed(2)}× Redis CPU`);
      return {
        route,
        store,
        cells: [
          spread(of((s) => s.requestsPerSecond)),
          spread(of((s) => s.p50)),
          spread(of((s) => s.p99)),
          (result.commands[store]?.[route] ?? 0).toFixed(2),
          store === "memory"
            ? "—"
            : spread(
                of((s) => s.redisCpuMicrosPerRequest),
                1,
              ),
          spread(
            of((s) => s.appCpuMicrosPerRequest),
            1,
          ),
          spread(
            of((s) => s.peakRssMiB),
            1,
          ),
          String(samples.reduce((sum, s) => sum + s.errors, 0)),
          ratio,
        ],
      };
    }),
  );
}

const HEADERS = [
  "req/s",
  "p50 ms",
  "p99 ms",
  "Redis cmds/req",
  "Redis CPU µs/req",
  "app CPU µs/req",
  "peak RSS MiB",
  "errors",
  "ours vs this (paired medians)",
];

export function textTable(result: BenchResult): string {
  const lines: string[] = [];
  let route = "";
  for (const row of rows(result)) {
    if (row.route !== route) {
      route = row.route;
      lines.push("", route, `  ${"store".padEnd(18)}${HEADERS.map((h) => h.padEnd(22)).join("")}`);
    }
    lines.push(`  ${row.store.padEnd(18)}${row.cells.map((c) => c.padEnd(22)).join("")}`);
  }
  lines.push("", ...memoryLines(result).map((line) => `  ${line}`));
  lines.push("", "Targets");
  for (const { what, figure, holds } of acceptance(result)) {
    lines.push(`  ${holds ? "yes" : "NO "}  ${what}: ${figure}`);
  }
  return lines.join("\n");
}

/** Redis bytes per session by store, one line each, with ours as a share of each other's. */
function memoryLines(result: BenchResult): string[] {
  const memory = result.memory;
  if (memory === undefined) return [];
  const lines = ["Redis bytes per session (used_memory delta over 20 000 sessions)"];
  for (const [store, shapes] of Object.entries(memory)) {
    const cells = Object.entries(shapes).map(([shape, bytes]) => {
      const ours = memory[OURS]?.[shape];
      const share =
        store === OURS || ours === undefined ? "" : ` (ours ${(ours / bytes).toFixed(2)}×)`;
      return `${shape}: ${Math.round(bytes)}${share}`;
    });
    lines.push(`${store.padEnd(18)}${cells.join(", ")}`);
  }
  return lines;
}

/** One acceptance point of the benchmark (issue 6), checked against a run. */
interface Check {
  what: string;
  figure: string;
  holds: boolean;
}

const GET = "GET /me (authenticated read)";
const POST = "POST /change (one key)";

/**
 * The benchmark's targets, evaluated on this run's medians and paired ratios (those of stores the
 * run left out are left out too).
 */
export function acceptance(result: BenchResult): Check[] {
  const ran = (store: string) => result.samples.some((s) => s.store === store);
  if (!ran(OURS)) return [];
  const commands = result.commands[OURS]?.[GET] ?? NaN;
  const redisCpu = (store: string) =>
    median(
      result.samples
        .filter((s) => s.store === store && s.route === GET)
        .map((s) => s.redisCpuMicrosPerRequest),
    );
  const others = ["connect-redis", "connect-redis-7"].filter(ran);
  const cheaper = others.reduce((a, b) => (redisCpu(a) <= redisCpu(b) ? a : b), others[0] ?? "");
  const rps = (route: string, store: string) =>
    pairedRatio(result, route, store, (s) => s.requestsPerSecond);
  const cpuRatio = redisCpu(OURS) / redisCpu(cheaper);
  const ratio = (value: number) => `${value.toFixed(2)}×`;
  return [
    {
      what: "Redis commands per authenticated GET: 1",
      figure: commands.toFixed(2),
      holds: commands <= 1.005,
    },
    ...(cheaper === ""
      ? []
      : [
          {
            what: `Redis master CPU per GET ≤ 0.7 × the cheaper connect-redis setup's (${cheaper})`,
            figure: `${redisCpu(OURS).toFixed(1)} vs ${redisCpu(cheaper).toFixed(1)} µs = ${ratio(cpuRatio)}`,
            holds: cpuRatio <= 0.7,
          },
        ]),
    ...(
      [
        [GET, "memory", 0.9],
        [GET, "connect-redis", 1.0],
        [GET, "connect-redis-7", 1.0],
        [POST, "connect-redis-7", 0.9],
        [POST, "connect-redis", 1.0],
      ] as const
    )
      .filter(([, store]) => ran(store))
      .map(([route, store, target]) => ({
        what: `${route.split(" (")[0] ?? route} req/s ≥ ${target.toFixed(1)} × ${store}`,
        figure: ratio(rps(route, store)),
        holds: rps(route, store) >= target,
      })),
    ...(
      [
        ["typical", 1.0],
        ["2 KB", 1.15],
      ] as const
    ).flatMap(([shape, target]) => {
      const ours = result.memory?.[OURS]?.[shape];
      const theirs = result.memory?.["connect-redis"]?.[shape];
      if (ours === undefined || theirs === undefined) return [];
      return [
        {
          what: `Redis bytes per ${shape} session ≤ ${target.toFixed(2)} × connect-redis`,
          figure: `${Math.round(ours)} vs ${Math.round(theirs)} = ${ratio(ours / theirs)}`,
          holds: ours / theirs <= target,
        },
      ];
    }),
  ];
}

export function markdownReport(result: BenchResult): string {
  const { machine, packages } = result;
  const versions = Object.entries(packages)
    .map(([name, version]) => `${name} ${version}`)
    .join(", ");
  const parts = [
    "# Benchmarks",
    "",
    `Latest run: ${result.date}, \`${result.command}\`, on ${machine.cores} cores (${machine.cpu}),`,
    `Node.js ${machine.node}, Redis ${machine.redis} (master + 2 replicas + 3 Sentinels on the same`,
    `machine as the load generator and the apps). Packages: ${versions}.`,
    "",
    "## Setup",
    "",
    "- One Express app per store (`bench/app.ts`), each in its own process, all with the same",
    "  express-session settings (`resave: false, saveUninitialized: false, rolling: false`):",
    "  **redis-ha-session** (`redisSession`, Sentinel, every write confirmed with `WAIT 2`, both",
    "  replicas); **connect-redis** latest with the node-redis Sentinel client it requires;",
    "  **connect-redis-7** (7.1.1, the last to take ioredis) with an ioredis Sentinel client;",
    "  express-session's **MemoryStore**, the in-process ceiling. The connect-redis stores do not",
    "  wait for replicas.",
    "- Routes: `GET /me` reads the logged-in session, `POST /change` changes one key of it,",
    "  `POST /login` stores a new visitor's session. autocannon drives each store in turn (stores",
    "  interleaved within each round), the same number of connections for every one.",
    "- Per store and route: requests/s and latency from autocannon; Redis commands per request counted",
    "  with MONITOR over 100 sequential requests (commands run inside scripts are not sent by the",
    "  app); Redis master CPU per request from `INFO cpu`; app CPU per request from `/proc/<pid>/stat`;",
    "  peak RSS (VmHWM; every app process loads all four stores' client libraries, so it compares",
    "  little but MemoryStore's growth). Each figure is the median over the rounds, with min–max; the",
    "  last column gives the medians of per-round paired ratios of redis-ha-session to that store.",
    "- This machine is shared by the load generator, the apps and five Redis processes, and its",
    "  speed drifts from minute to minute: compare stores by the paired ratios, not across runs.",
    "",
    "## Targets",
    "",
    "| target | this run | holds |",
    "| --- | --- | --- |",
    ...acceptance(result).map(
      ({ what, figure, holds }) => `| ${what} | ${figure} | ${holds ? "yes" : "**no**"} |`,
    ),
  ];
  if (result.memory !== undefined) {
    const shapes = Object.keys(Object.values(result.memory)[0] ?? {});
    parts.push(
      "",
      "## Redis bytes per session",
      "",
      "`used_memory` on the master before and after the store writes 20 000 sessions (through its",
      "own `set`) on an emptied Redis: **typical** is a cookie, a small user object and a 3-item",
      "cart; **2 KB** has 12 keys of ~170 bytes.",
      "",
      `| store | ${shapes.join(" | ")} |`,
      `|${" --- |".repeat(shapes.length + 1)}`,
      ...Object.entries(result.memory).map(
        ([store, bytes]) =>
          `| ${store} | ${shapes.map((shape) => String(Math.round(bytes[shape] ?? NaN))).join(" | ")} |`,
      ),
    );
  }
  let route = "";
  for (const row of rows(result)) {
    if (row.route !== route) {
      route = row.route;
      parts.push(
        "",
        `## ${route}`,
        "",
        `| store | ${HEADERS.join(" | ")} |`,
        `|${" --- |".repeat(HEADERS.length + 1)}`,
      );
    }
    parts.push(`| ${row.store} | ${row.cells.join(" | ")} |`);
  }
  parts.push("", ...WHY);
  return `${parts.join("\n")}\n`;
}

/** Measurements behind choices in the code, kept here rather than in its comments. */
const WHY = [
  "## Why the code is as it is",
  "",
  "- `CorkedCommands` writes the socket after 8 held commands (`FLUSH_AT`), not only once per turn",
  "  of the event loop: the first requests of a burst then need not wait for the last to be parsed.",
  "  Measured with `--baseline` when it was written (commit aff772e; no result file was kept): more",
  "  POST /change req/s than writing once per turn in every paired round, and fewer than flushing",
  "  at 3, for a little more Redis master CPU per GET in more socket reads.",
];

/** The heading of the section `npm run bench -- --cache` writes into docs/benchmarks.md. */
export const CACHE_SECTION = "DB cache";

/**
 * `doc` with its `## <heading>` section (up to the next `## ` heading) replaced by `section`, or
 * `section` added before "Why the code is as it is" (else at the end); `doc` as it is when
 * `section` is undefined. The session bench rewrites docs/benchmarks.md and keeps the DB cache
 * bench's section this way, and that bench writes its section into the file the same way.
 */
export function withSection(doc: string, heading: string, section: string | undefined): string {
  if (section === undefined) return doc;
  const body = `${section.trimEnd()}\n\n`;
  const existing = sectionOf(doc, heading);
  if (existing !== undefined) return doc.replace(existing, () => body);
  const why = doc.indexOf(`\n${WHY[0] ?? ""}`);
  return why < 0
    ? `${doc.trimEnd()}\n\n${body}`
    : `${doc.slice(0, why + 1)}${body}${doc.slice(why + 1)}`;
}

/** The `## <heading>` section of `doc`, heading line included, up to the next `## ` heading. */
export function sectionOf(doc: string, heading: string): string | undefined {
  const start = doc.indexOf(`\n## ${heading}\n`);
  if (start < 0) return undefined;
  const next = doc.indexOf("\n## ", start + 1);
  return doc.slice(start + 1, next < 0 ? undefined : next + 1);
}
