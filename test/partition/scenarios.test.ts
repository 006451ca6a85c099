import { setTimeout as delay } from "node:timers/promises";
import { describe, expect, test } from "vitest";
import type { ExpectStatic } from "vitest";
import { ask } from "../../harness/netns/nodes.js";
import { PartitionStack } from "../../harness/netns/PartitionStack.js";
import type { StackOptions } from "../../harness/netns/PartitionStack.js";
import { runScenario } from "../../harness/netns/scenario.js";
import type { Scenario, ScenarioResult } from "../../harness/netns/scenario.js";
import { currentMasterHost, seededRandom, shape } from "../../harness/netns/shapes.js";
import type { ShapeName } from "../../harness/netns/shapes.js";
import { Browser } from "../../harness/Browser.js";
import { partitionsUnavailable } from "./support.js";

// Each Redis node, Sentinel and app instance in a network namespace of its own; partitions are
// iptables DROP rules. 20 users on 2 app instances (user i always on instance i mod 2), every
// 2xx an acknowledged cart item, every cart read back at the end. Sentinel: down-after 1000 ms,
// failover-timeout 3000 ms; the apps' options are the defaults unless a scenario says otherwise.
//
// The flapping scenario runs beside the others (two stacks at a time); the others one after
// another.

const WAIT_MS = 10_000;
/** A 503 may come this much after `waitMs` (the response itself, a loaded machine). */
const SLACK_MS = 500;
/** Each scenario's own timeout, including its wait for its turn. */
const TIMEOUT_MS = 600_000;

/** Runs one function at a time, in the order they were queued. */
class Turns {
  #last: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#last.then(work, work);
    this.#last = next.catch(() => undefined);
    return next;
  }
}
const inTurn = new Turns();
/** The flapping scenario's lane, which has room for one more after it. */
const afterFlapping = new Turns();

/** A scenario's result, with the logs around its lost writes when acknowledged writes were lost. */
type Outcome = ScenarioResult & { lostLogs?: string };

/** Starts a stack, runs `scenario` on it, and tears it down; prints the logs if it fails. */
async function onStack(
  options: StackOptions,
  scenario: Scenario,
  meta: { scenario?: string },
): Promise<Outcome> {
  const stack = await PartitionStack.start(options);
  try {
    const result: Outcome = await runScenario(stack, scenario);
    meta.scenario = result.line;
    if (result.lost.length > 0) {
      const times = result.lost.map(({ acknowledgedAt }) => acknowledgedAt);
      result.lostLogs = await stack.logsAround(
        Math.min(...times) - 5_000,
        Math.max(...times) + 15_000,
      );
    }
    return result;
  } catch (error) {
    console.error(`Logs of the failed scenario ${scenario.name}:\n${await stack.logs()}`);
    throw error;
  } finally {
    await stack.stop();
  }
}

function split(name: ShapeName, master = "n1"): (stack: PartitionStack) => Promise<void> {
  return (stack) => stack.network.split(...shape(name, master).sides);
}

/**
 * A scenario test in `lane`: starts a stack with `options`, runs `scenario` on it and hands the
 * result to `check`; the result's line goes to the suite's summary.
 */
function scenarioTest(
  title: string,
  lane: Turns,
  options: StackOptions,
  scenario: Scenario,
  check: (result: Outcome, expect: ExpectStatic, meta: { scenario?: string }) => void,
): void {
  test.concurrent(
    title,
    ({ task, expect }) =>
      lane.run(async () => check(await onStack(options, scenario, task.meta), expect, task.meta)),
    TIMEOUT_MS,
  );
}

/** Every failure a 503, none slower than the wait bound (with slack). */
function only503sWithinBound(result: ScenarioResult): void {
  for (const side of result.instances) {
    expect(side.errors).toBe(0);
    expect(side.slowest503Ms).toBeLessThanOrEqual(WAIT_MS + SLACK_MS);
  }
}

describe.skipIf(partitionsUnavailable !== undefined)("network partitions", () => {
  // The flapping schedule: a seeded random shape each round, and what was applied when.
  const random = seededRandom(20261202);
  const shapes: ShapeName[] = ["minority", "isolated", "bridge", "replicasCut"];
  const applied: { at: number; label: string }[] = [];
  // Each cut comes right at the previous heal, before Sentinel has re-pointed a returning old
  // master (it waits 8 s): a failover may then have to choose between old masters it lists as
  // replicas with no replication offset (they still report role master), and promote the one
  // without the writes a replica confirmed. No client chooses what Sentinel promotes, so the
  // default durability cannot keep that from losing acknowledged writes: 638 in the stop's CI
  // run of 2026-12-07, 512 in 1 of 4 runs here after it (bench/results/
  // 2026-12-07-flapping-default-loss.txt: round 11's writes on n2, confirmed by n3; n3 promoted
  // in round 12; in round 13 Sentinel picked n1 over n2, both unconverted old masters).
  // `replicas: "all"` waits for every replica Sentinel lists, reachable or not, and holds here.
  scenarioTest(
    'g. durability.replicas "all", a random partition from a–d every 10 s for 3 min: nothing acknowledged lost, nobody logged out, converged within 30 s of the last heal',
    afterFlapping,
    { appOptions: { durability: { replicas: "all" } } },
    {
      name: 'g. flapping a–d every 10 s, 3 min, durability.replicas "all"',
      faultMs: 0,
      fault: async (stack) => {
        for (let round = 0; round < 18; round++) {
          await stack.network.heal();
          const name = shapes[Math.floor(random() * shapes.length)] ?? "minority";
          const master = await currentMasterHost(stack);
          applied.push({ at: Date.now(), label: `${name}@${master}` });
          await stack.network.split(...shape(name, master).sides);
          await delay(10_000);
        }
      },
    },
    (result, expect, meta) => {
      meta.scenario = `${result.line}; shapes ${applied.map(({ label }) => label).join(" ")}`;
      if (result.lost.length > 0) {
        // Which round each lost item was acknowledged in, for the investigation.
        const byRound = new Map<string, number>();
        for (const { user, acknowledgedAt } of result.lost) {
          const round = applied.findLastIndex(({ at }) => at <= acknowledgedAt);
          const key = `round ${round} (${applied[round]?.label ?? "before"}) ${user}`;
          byRound.set(key, (byRound.get(key) ?? 0) + 1);
        }
        const rounds = JSON.stringify([...byRound]);
        console.log(`lost by round: ${rounds}`);
        // In the summary as well: a CI log may keep only its tail.
        const failovers = (result.lostLogs ?? "")
          .split("\n")
          .filter((line) =>
            /\+(switch-master|selected-slave|promoted-slave|convert-to-slave)/.test(line),
          )
          .slice(0, 30);
        meta.scenario += `; lost by round ${rounds}; failovers around them:\n${failovers.join("\n")}`;
        // When and around what (the first 40, and 800 log lines from 5 s before the first).
        const times = result.lost
          .slice(0, 40)
          .map(({ user, acknowledgedAt }) => `${user} ${new Date(acknowledgedAt).toISOString()}`);
        const logs = (result.lostLogs ?? "").split("\n").slice(0, 800).join("\n");
        console.log(`lost acknowledged at:\n${times.join("\n")}\nlogs around them:\n${logs}`);
      }
      expect(result.acknowledgedLost).toBe(0);
      expect(result.loggedOut).toBe(0);
      expect(result.convergeMs).toBeLessThanOrEqual(30_000);
      only503sWithinBound(result);
    },
  );

  scenarioTest(
    "a, with durability.fenceReads: the cut-off instance answers reads 503 as well, so no read is stale",
    afterFlapping,
    { appOptions: { durability: { fenceReads: true } } },
    {
      name: "a. minority, durability.fenceReads, 12 s",
      fault: split("minority"),
      faultMs: 12_000,
    },
    (result, expect) => {
      expect(result.probeReads).toBeGreaterThan(0);
      expect(result.staleReads).toBe(0);
      expect(result.acknowledgedLost).toBe(0);
      expect(result.instances[1]?.failed).toBe(0);
      only503sWithinBound(result);
    },
  );

  scenarioTest(
    "a. minority with a client: A's writes 503 within the bound, B fails none and stalls at most the failover + 1 s, nothing acknowledged lost",
    inTurn,
    {},
    {
      name: "a. minority {n1, s1, A} | {n2, n3, s2, s3, B}, 20 s",
      fault: split("minority"),
      faultMs: 20_000,
    },
    (result, expect) => {
      const [a, b] = result.instances;
      expect(result.acknowledgedLost).toBe(0);
      expect(result.loggedOut).toBe(0);
      expect(a?.unavailable).toBeGreaterThan(0);
      only503sWithinBound(result);
      expect(b?.failed).toBe(0);
      expect(result.failoverMs).toBeDefined();
      expect(b?.longestStallMs).toBeLessThanOrEqual((result.failoverMs ?? 0) + 1_000);
    },
  );

  scenarioTest(
    "a, control: with durability.replicas 0 the same partition loses acknowledged writes (the check works)",
    inTurn,
    { appOptions: { durability: { replicas: 0 } } },
    {
      name: "a. control, durability.replicas 0",
      fault: split("minority"),
      faultMs: 20_000,
    },
    (result, expect) => {
      expect(result.acknowledgedLost).toBeGreaterThan(0);
    },
  );

  scenarioTest(
    "b. master isolated from everything: no request fails, nothing lost, stall at most the failover + 1 s",
    inTurn,
    {},
    { name: "b. n1 master isolated, 12 s", fault: split("isolated"), faultMs: 12_000 },
    (result, expect) => {
      expect(result.acknowledgedLost).toBe(0);
      expect(result.failed).toBe(0);
      expect(result.failoverMs).toBeDefined();
      for (const side of result.instances) {
        expect(side.longestStallMs).toBeLessThanOrEqual((result.failoverMs ?? 0) + 1_000);
      }
    },
  );

  scenarioTest(
    "c. bridge (n2 and s2 see both halves): no failover, B's writes 503 within the bound, nothing lost",
    inTurn,
    {},
    {
      name: "c. bridge {n1, s1, A} | {n3, s3, B}, n2 + s2 see both, 12 s",
      fault: split("bridge"),
      faultMs: 12_000,
    },
    (result, expect) => {
      expect(result.acknowledgedLost).toBe(0);
      expect(result.loggedOut).toBe(0);
      expect(result.failovers).toBe(0);
      expect(result.instances[1]?.unavailable).toBeGreaterThan(0);
      only503sWithinBound(result);
    },
  );

  // What scenario d sees during its fault: the health answer, and full syncs before and after.
  let health: unknown;
  const fullSyncs: number[] = [];
  const syncs = async (stack: PartitionStack) => {
    const master = stack.node("n1");
    const info = String(await ask(master.address, master.port, ["INFO", "stats"]));
    return Number(/^sync_full:(\d+)/m.exec(info)?.[1]);
  };
  scenarioTest(
    "d. replicas cut from the master only: no failover, writes 503 after the bound, health degraded, no full resync after the heal",
    inTurn,
    {},
    {
      name: "d. replicas cut from n1 master, 12 s",
      fault: async (stack) => {
        fullSyncs.push(await syncs(stack));
        await split("replicasCut")(stack);
        // A cut replica stays "connected" to the master until repl-timeout (60 s); health
        // looks at how recently each acknowledged.
        await delay(4_000);
        health = (await new Browser().request(`${stack.apps[0]?.url ?? ""}/healthz`)).body;
      },
      faultMs: 8_000,
      heal: async (stack) => {
        await stack.network.heal();
        await delay(3_000);
        fullSyncs.push(await syncs(stack));
      },
    },
    (result, expect) => {
      expect(result.failovers).toBe(0);
      expect(result.acknowledgedLost).toBe(0);
      for (const side of result.instances) expect(side.unavailable).toBeGreaterThan(0);
      only503sWithinBound(result);
      expect(health).toMatchObject({ status: "degraded", role: "master", replicas: 0 });
      expect(fullSyncs[1]).toBe(fullSyncs[0]);
    },
  );

  scenarioTest(
    "e. Sentinels on their own hosts, default durability: nothing acknowledged lost; A's writes 503 within the bound, B's go on degraded",
    inTurn,
    {},
    {
      name: "e. own-host Sentinels {n1, n2, A} | {s1-s3, n3, B}, default durability, 12 s",
      fault: split("ownHosts"),
      faultMs: 12_000,
    },
    (result, expect) => {
      expect(result.failovers).toBe(1);
      // n3 was a replica that could be promoted, and A's side cannot reach it: from the cut on,
      // no write on n1 is confirmed by every replica that could be promoted, so none is
      // acknowledged (before issue 30, WAIT 1 met by n2 lost up to a second of them).
      expect(result.acknowledgedLost).toBe(0);
      expect(result.loggedOut).toBe(0);
      // B's side: n3 promoted with no replica it can reach, writes acknowledged degraded.
      expect(result.instances[1]?.requests).toBeGreaterThan(result.instances[0]?.requests ?? 0);
      only503sWithinBound(result);
    },
  );

  const delayApps = (ms: number) => (stack: PartitionStack) => {
    const sources = ["a1", "a2"].map((host) => stack.network.address(host));
    for (const proxy of stack.proxies.values()) proxy.delay(ms, sources);
    return Promise.resolve();
  };

  scenarioTest(
    "f. 50 ms more each way between the apps and Redis: no request fails",
    inTurn,
    { proxied: true },
    {
      name: "f. +50 ms each way app <-> Redis, 12 s",
      fault: delayApps(50),
      heal: delayApps(0),
      faultMs: 12_000,
    },
    (result, expect) => {
      expect(result.failed).toBe(0);
      expect(result.acknowledgedLost).toBe(0);
    },
  );

  scenarioTest(
    "f. 1 s more each way: failures are 503s only, no cart item twice, nothing lost",
    inTurn,
    { proxied: true },
    {
      name: "f. +1 s each way app <-> Redis, 12 s",
      fault: delayApps(1_000),
      heal: delayApps(0),
      faultMs: 12_000,
    },
    (result, expect) => {
      only503sWithinBound(result);
      expect(result.duplicated).toBe(0);
      expect(result.acknowledgedLost).toBe(0);
    },
  );

  scenarioTest(
    "f. 20 % packet loss between the apps and the master: nothing lost, no cart item twice",
    inTurn,
    {},
    {
      name: "f. 20 % packet loss app <-> master, 12 s",
      fault: async (stack) => {
        await stack.network.lossy("a1", "n1", 0.2);
        await stack.network.lossy("a2", "n1", 0.2);
      },
      faultMs: 12_000,
    },
    (result, expect) => {
      expect(result.acknowledgedLost).toBe(0);
      expect(result.duplicated).toBe(0);
      only503sWithinBound(result);
    },
  );
});
