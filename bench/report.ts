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
  command: string;
  /** Commands the app sent to Redis per request, by store and route (MONITOR). */
  commands: Record<string, Record<string, number>>;
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
  return lines.join("\n");
}

export function markdownReport(result: BenchResult): string {
  const { machine } = result;
  const parts = [
    "# Benchmarks",
    "",
    `Latest run: ${result.date}, \`${result.command}\`, on ${machine.cores} cores (${machine.cpu}),`,
    `Node.js ${machine.node}, Redis ${machine.redis} (master + 2 replicas + 3 Sentinels on the same`,
    "machine). Each figure is the median over the rounds, with min–max; stores run interleaved, and",
    "the last column gives per-round paired ratios of redis-ha-session to that store. Redis commands",
    "per request are counted with MONITOR (commands run inside scripts are not sent by the app).",
    "redis-ha-session confirms each write with `WAIT 2` (both replicas); the others do not wait.",
    "",
  ];
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
  return `${parts.join("\n")}\n`;
}
