import { setTimeout as delay } from "node:timers/promises";
import type { LoadStats, Verdict } from "../UserLoad.js";
import { withStack } from "../failoverStack.js";
import type { ServerKind } from "../serverKind.js";
import { volatileAof } from "./volatileAof.js";

/** What one crash of every node showed. */
export interface CrashAllRun {
  stats: LoadStats;
  verdict: Verdict;
  /** Acknowledged writes before the crash (the ones that must survive it). */
  acknowledgedBefore: number;
}

/**
 * 20 logged-in users keep adding cart items through 2 app instances on a Sentinel topology whose
 * data nodes run with the volatile-AOF shim (`appendfsync everysec`: what is not fsynced is lost
 * on SIGKILL, as on a machine crash); every data node and Sentinel is SIGKILLed at once, then all
 * are started again from their AOF and the users go on. With `fsync`, the store runs
 * `durability: { fsync: true }` on data nodes with `appendfsync always`; without, the default
 * durability on `appendfsync everysec` (the control). Prints the scenario's line.
 */
export async function crashAll({
  name,
  fsync,
  kind = "valkey",
}: {
  name: string;
  fsync: boolean;
  kind?: ServerKind;
}): Promise<CrashAllRun> {
  const preload = await volatileAof();
  return withStack(
    fsync ? { durability: { fsync: true } } : {},
    async ({ topology, load }) => {
      load.start();
      await load.acknowledges(100);
      // Seconds of load, so that what `everysec` had fsynced before the crash is there too.
      await delay(3_000);
      const nodes = [...topology.servers, ...topology.sentinels];
      // Every SIGKILL is sent before any exit is awaited: all at once.
      await Promise.all(nodes.map((node) => node.process.kill()));
      const acknowledgedBefore = load.users.reduce((n, user) => n + user.acknowledged.length, 0);
      await Promise.all(topology.servers.map((server) => server.start()));
      await Promise.all(topology.sentinels.map((sentinel) => sentinel.start()));
      await topology.waitForSteadyState();
      await load.acknowledges(40);
      const { stats, verdict } = await load.finish(name, () => [
        `${acknowledgedBefore} acknowledged before the crash`,
      ]);
      return { stats, verdict, acknowledgedBefore };
    },
    {
      sentinel: {
        kind,
        preload,
        downAfterMs: 2_000,
        // The tier needs `always` on servers whose WAITAOF counts writes before their fsync
        // under `everysec` (Valkey; see Confirmations); the control runs the default config.
        serverConfig: [`appendfsync ${fsync ? "always" : "everysec"}`],
      },
    },
  );
}
