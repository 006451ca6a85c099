import { setTimeout as delay } from "node:timers/promises";
import type { Response } from "../UserLoad.js";
import { switchesIn } from "../stacks.js";
import { checkCarts, RoleObserver, StaleReadProbe } from "./PartitionStack.js";
import type { CartCheck, PartitionStack } from "./PartitionStack.js";

/** What one instance's users saw. */
export interface InstanceFigures {
  requests: number;
  failed: number;
  unavailable: number;
  /** 5xx other than 503, and requests with no answer at all. */
  errors: number;
  longestStallMs: number;
  /** The slowest 503 (ms from the request), 0 when none. */
  slowest503Ms: number;
  /**
   * 2xx answered within 1.25 s after the cut: the window in which a side that has lost its
   * Sentinel majority may still acknowledge durable writes (answers up to 1 s old count, asked
   * every 250 ms).
   */
  acknowledgedRightAfterCut: number;
}

export interface ScenarioResult extends CartCheck {
  name: string;
  instances: InstanceFigures[];
  requests: number;
  failed: number;
  staleReads: number;
  probeReads: number;
  /** The most data nodes that answered ROLE "master" in one poll. */
  mostMasters: number;
  /** From the cut to Sentinel's first `+switch-master`; undefined: no failover. */
  failoverMs: number | undefined;
  /** How many different masters Sentinel switched to. */
  failovers: number;
  /** From the heal until one master, replicas linked, Sentinels agreeing. */
  convergeMs: number;
  line: string;
}

export interface Scenario {
  name: string;
  /** Cuts the network (or slows it); called `warmupMs` into the load. */
  fault: (stack: PartitionStack) => Promise<void>;
  /** How long the fault lasts. */
  faultMs?: number;
  /** Undoes the fault; the network's heal() unless given. */
  heal?: (stack: PartitionStack) => Promise<void>;
  warmupMs?: number;
  /** How long the users go on after the heal, once the topology converged. */
  afterMs?: number;
}

/**
 * Runs the users and the stale-read probe, applies the fault, heals it, waits for the topology to
 * converge, reads every cart back and prints the scenario's line.
 */
export async function runScenario(
  stack: PartitionStack,
  { name, fault, faultMs = 20_000, heal, warmupMs = 2_000, afterMs = 3_000 }: Scenario,
): Promise<ScenarioResult> {
  const { load } = stack;
  const urls = stack.apps.map((app) => app.url);
  const observer = new RoleObserver(stack);
  load.start();
  const probe = new StaleReadProbe(load, urls);
  await delay(warmupMs);
  const cutAt = Date.now();
  await fault(stack);
  await delay(faultMs);
  await (heal ?? ((s: PartitionStack) => s.network.heal()))(stack);
  const healedAt = Date.now();
  await stack.converged(60_000);
  const convergeMs = Date.now() - healedAt;
  await delay(afterMs);
  await probe.stop();
  await load.stop();
  const mostMasters = await observer.stop();
  const carts = await checkCarts(load, urls);
  const switches: { at: number; to: string }[] = [];
  for (const sentinel of stack.sentinels)
    switches.push(...switchesIn(await sentinel.log(), sentinel.name));
  const after = switches.filter(({ at }) => at >= cutAt).sort((a, b) => a.at - b.at);
  const instances = urls.map((url) =>
    figures(
      load.responses.filter((r) => r.url === url),
      cutAt,
    ),
  );
  const result: Omit<ScenarioResult, "line"> = {
    name,
    ...carts,
    instances,
    requests: load.responses.length,
    failed: instances.reduce((sum, { failed }) => sum + failed, 0),
    staleReads: probe.stale,
    probeReads: probe.reads,
    mostMasters,
    failoverMs: after[0] === undefined ? undefined : after[0].at - cutAt,
    failovers: new Set(after.map(({ to }) => to)).size,
    convergeMs,
  };
  const line = describe(result);
  console.log(line);
  return { ...result, line };
}

/** After a cut, how long a side without a Sentinel majority may still acknowledge writes. */
const FENCE_WINDOW_MS = 1_250;

function figures(responses: Response[], cutAt: number): InstanceFigures {
  const result: InstanceFigures = {
    requests: responses.length,
    failed: 0,
    unavailable: 0,
    errors: 0,
    longestStallMs: 0,
    slowest503Ms: 0,
    acknowledgedRightAfterCut: 0,
  };
  for (const { status, ms, sentAt } of responses) {
    result.longestStallMs = Math.max(result.longestStallMs, ms);
    if (status >= 200 && status < 300) {
      const answeredAt = sentAt + ms;
      if (answeredAt >= cutAt && answeredAt <= cutAt + FENCE_WINDOW_MS) {
        result.acknowledgedRightAfterCut++;
      }
      continue;
    }
    result.failed++;
    if (status === 503) {
      result.unavailable++;
      result.slowest503Ms = Math.max(result.slowest503Ms, ms);
    } else if (status === 0 || status >= 500) result.errors++;
  }
  return result;
}

/** The scenario's one line of figures. */
function describe(result: Omit<ScenarioResult, "line">): string {
  const side = (figures: InstanceFigures, label: string) =>
    `${label} ${figures.requests} req, ${figures.failed} failed (${figures.unavailable} × 503, ` +
    `${figures.errors} other), stall ${figures.longestStallMs} ms` +
    (figures.unavailable > 0 ? `, slowest 503 ${figures.slowest503Ms} ms` : "");
  const [a, b] = result.instances;
  return (
    `${result.name}: ${result.requests} requests, ${result.failed} failed, ` +
    `${result.acknowledgedLost} acknowledged lost, ${result.duplicated} duplicated, ` +
    `${result.loggedOut} logged out, ${result.staleReads} stale of ${result.probeReads} probe reads; ` +
    (a === undefined ? "" : side(a, "A")) +
    (b === undefined ? "" : `; ${side(b, "B")}`) +
    `; masters at once ${result.mostMasters}, ` +
    `failover ${result.failoverMs === undefined ? "none" : `${result.failoverMs} ms`}` +
    (result.failovers > 1 ? ` (${result.failovers} masters)` : "") +
    `, converged ${result.convergeMs} ms after heal`
  );
}
