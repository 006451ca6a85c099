// `npm run soak [-- --minutes 60 --seed 1]`: 50 users on 2 app instances for an hour on the
// partition harness (every node, Sentinel and app in a network namespace of its own), a fault every
// 30–60 s from {master SIGKILL, master freeze, partition a (minority with a client), partition b
// (master isolated), +50 ms latency app <-> Redis}. Passes with nothing acknowledged lost, nobody
// logged out, no 5xx but 503, app RSS growing < 1 MB per 10 min after a 10-minute warm-up, no
// orphan key, event-loop delay p99 < 50 ms between faults. Root only (network namespaces).
import { setTimeout as delay } from "node:timers/promises";
import { parseArgs } from "node:util";
import { ask, SENTINEL_PORT } from "../harness/netns/nodes.js";
import { checkCarts, MASTER_NAME, PartitionStack } from "../harness/netns/PartitionStack.js";
import { currentMasterHost, seededRandom, shape } from "../harness/netns/shapes.js";
import { Network } from "../harness/netns/Network.js";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "60" },
    seed: { type: "string", default: "1" },
  },
});
const minutes = Number(values.minutes);
const seed = Number(values.seed);
if (!(minutes > 0) || !Number.isInteger(seed)) {
  process.stderr.write("--minutes must be > 0 and --seed a whole number\n");
  process.exit(2);
}
const unavailable = await Network.unavailableReason();
if (unavailable !== undefined) {
  process.stderr.write(`the soak needs network namespaces: ${unavailable}\n`);
  process.exit(2);
}

const WARM_UP_MS = Math.min(10, minutes / 6) * 60_000;
const random = seededRandom(seed);
const faults = ["kill", "freeze", "partition a", "partition b", "latency"] as const;
type Fault = (typeof faults)[number];

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 60_000).toFixed(1)} min`;
// Each user checks out every 200 items: an hour of carts would outgrow `maxBytes`. A user
// pauses 200 ms between requests (~200 requests/s in all): at 100 ms, the load generator, the
// latency proxies and both apps saturate the 2 cores of the machine this was written on, and
// the event-loop figure would measure that.
const stack = await PartitionStack.start({
  users: 50,
  proxied: true,
  checkoutEvery: 200,
  thinkMs: 200,
});
const { load } = stack;
const urls = stack.apps.map((app) => app.url);

interface Sample {
  at: number;
  rss: number[];
  /** Event-loop delay p99 (ms) per app over the sample's interval. */
  lagP99: number[];
  /** Whether a fault was active at some point in the interval. */
  faulty: boolean;
}
const samples: Sample[] = [];
/** Mutated by the fault loop, read by the sampler. */
const state = { faultActive: false, faultSeen: false, sampling: true };
const sampler = (async () => {
  while (state.sampling) {
    await delay(10_000);
    const reports = await Promise.all(
      urls.map(async (url) => {
        try {
          const response = await fetch(`${url}/process`, { signal: AbortSignal.timeout(5_000) });
          return (await response.json()) as { eventLoopP99Ms: number; rssBytes: number };
        } catch {
          return undefined;
        }
      }),
    );
    if (reports.every((report) => report !== undefined)) {
      samples.push({
        at: Date.now(),
        rss: reports.map((report) => report.rssBytes),
        lagP99: reports.map((report) => report.eventLoopP99Ms),
        faulty: state.faultActive || state.faultSeen,
      });
    }
    state.faultSeen = state.faultActive;
  }
})();

const tally = new Map<Fault, number>();
async function inject(fault: Fault): Promise<void> {
  const master = stack.node(await currentMasterHost(stack));
  state.faultActive = true;
  state.faultSeen = true;
  switch (fault) {
    case "kill":
      await master.process.kill();
      await delay(10_000);
      await master.start();
      break;
    case "freeze":
      master.process.pause();
      await delay(5_000 + random() * 3_000);
      master.process.resume();
      break;
    case "partition a":
      await stack.network.split(...shape("minority", master.host).sides);
      await delay(10_000);
      await stack.network.heal();
      break;
    case "partition b":
      await stack.network.split(...shape("isolated", master.host).sides);
      await delay(10_000);
      await stack.network.heal();
      break;
    case "latency": {
      const sources = ["a1", "a2"].map((host) => stack.network.address(host));
      for (const proxy of stack.proxies.values()) proxy.delay(50, sources);
      await delay(10_000);
      for (const proxy of stack.proxies.values()) proxy.delay(0, sources);
      break;
    }
  }
  await stack.converged(90_000);
  state.faultActive = false;
  tally.set(fault, (tally.get(fault) ?? 0) + 1);
}

console.log(
  `soak: ${minutes} min, seed ${seed}, 50 users on 2 instances, a fault every 30–60 s; ` +
    `warm-up ${(WARM_UP_MS / 60_000).toFixed(1)} min, each user pausing 200 ms between requests`,
);
load.start();
const endAt = started + minutes * 60_000;
while (Date.now() + 30_000 < endAt) {
  await delay(30_000 + random() * 30_000);
  if (Date.now() >= endAt) break;
  const fault = faults[Math.floor(random() * faults.length)] ?? "kill";
  const before = load.responses.length;
  await inject(fault);
  const during = load.responses.slice(before);
  const failed = during.filter(({ status }) => status < 200 || status >= 300);
  console.log(
    `${elapsed()}: ${fault} on the master; ${during.length} requests meanwhile, ${failed.length} failed ` +
      `(${failed.filter(({ status }) => status === 503).length} × 503)`,
  );
}
await delay(Math.max(0, endAt - Date.now()));
await load.stop();
state.sampling = false;
await sampler;

const carts = await checkCarts(load, urls);
const lostAtCheckout = load.users.reduce((sum, user) => sum + user.lostAtCheckout, 0);
carts.acknowledgedLost += lostAtCheckout;
const errors = load.responses.filter(
  ({ status }) => status === 0 || (status >= 500 && status !== 503),
);
const unavailableCount = load.responses.filter(({ status }) => status === 503).length;
const keys = await sessionKeys();
const steady = samples.filter(({ at }) => at - started >= WARM_UP_MS);
const slopes = urls.map((_, i) => slopeMbPer10Min(steady.map(({ at, rss }) => [at, rss[i] ?? 0])));
const calm = samples.filter(({ faulty }) => !faulty).flatMap(({ lagP99 }) => lagP99);
const lagP99 = percentile(calm, 0.99);
await stack.stop();

const checks: [string, boolean][] = [
  [
    `${carts.acknowledgedLost} acknowledged writes lost (${lostAtCheckout} found at checkouts)`,
    carts.acknowledgedLost === 0,
  ],
  [`${carts.loggedOut} logged out`, carts.loggedOut === 0],
  [`${errors.length} 5xx other than 503 (or no answer)`, errors.length === 0],
  [
    `app RSS slope ${slopes.map((slope) => slope.toFixed(2)).join(" / ")} MB per 10 min after warm-up`,
    slopes.every((slope) => slope < 1),
  ],
  [
    `${keys.orphans} orphan keys (${keys.total} keys for ${load.users.length} users)`,
    keys.orphans === 0,
  ],
  [`event-loop delay p99 ${lagP99.toFixed(1)} ms between faults`, lagP99 < 50],
];
console.log(
  `\nsoak summary (${minutes} min, seed ${seed}): ${load.responses.length} requests, ` +
    `${unavailableCount} × 503, ${carts.duplicated} duplicated items; faults ` +
    [...tally].map(([fault, count]) => `${fault} × ${count}`).join(", "),
);
for (const [line, ok] of checks) console.log(`  ${ok ? "ok  " : "FAIL"} ${line}`);
process.exit(checks.every(([, ok]) => ok) ? 0 : 1);

/**
 * Keys in Redis: each user has one session, which must carry a TTL; anything else (a key without
 * a TTL, a session no user holds) is an orphan.
 */
async function sessionKeys(): Promise<{ total: number; orphans: number }> {
  const reply = (await ask(stack.sentinels[0]?.address ?? "", SENTINEL_PORT, [
    "SENTINEL",
    "get-master-addr-by-name",
    MASTER_NAME,
  ])) as string[];
  const master = stack.data.find(({ address }) => address === reply[0]);
  if (master === undefined) throw new Error("no master to count keys on");
  const keys = (await ask(master.address, master.port, ["KEYS", "*"])) as string[];
  const live = new Set(load.users.map((user) => `sess:${user.browser.sessionId ?? ""}`));
  let orphans = 0;
  for (const key of keys) {
    const ttl = Number(await ask(master.address, master.port, ["PTTL", key]));
    if (!live.has(key) || ttl < 0) orphans++;
  }
  return { total: keys.length, orphans };
}

/** Least-squares slope of RSS over time, in MB per 10 minutes. */
function slopeMbPer10Min(points: [number, number][]): number {
  if (points.length < 2) return 0;
  const n = points.length;
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / n;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - meanX) * (y - meanY);
    den += (x - meanX) ** 2;
  }
  const bytesPerMs = den === 0 ? 0 : num / den;
  return (bytesPerMs * 600_000) / 1_048_576;
}

function percentile(values: number[], share: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))] ?? 0;
}
