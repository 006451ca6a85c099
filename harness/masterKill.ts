import { setTimeout as delay } from "node:timers/promises";
import type { HealthReport } from "../src/index.js";
import type { LoadStats, Verdict } from "./UserLoad.js";
import { withStack } from "./failoverStack.js";
import { redisCommand } from "./redisCommand.js";
import type { ServerKind } from "./serverKind.js";

/**
 * How the master is made to fail: SIGKILL, or a planned failover (`SENTINEL FAILOVER`: every
 * node stays up; Sentinel promotes a replica, then re-points the old master).
 */
export type MasterFault = "kill" | "switchover";

/** What one master SIGKILL under load showed. */
export interface MasterKillRun {
  stats: LoadStats;
  verdict: Verdict;
  /**
   * How many masters Sentinel switched to: 1 for one failover; more when a Sentinel declared the
   * just-promoted master down as well and failed over again (Sentinel's own `+switch-master`s).
   */
  failovers: number;
  /** The first acknowledged write after the kill, less the first `+switch-master` (ms). */
  pickUpMs: number | undefined;
  /** The port of the master the Sentinels settled on. */
  promotedPort: number;
  killedPort: number;
  /** Per app instance: the store's events and its health report after the failover. */
  instances: { events: Record<string, number>; health: HealthReport }[];
}

/**
 * 20 logged-in users keep adding cart items (each 2xx an acknowledged write) through
 * `instances` app processes while the Redis master is SIGKILLed (or switched over, `fault`)
 * `killAfterMs` in; prints the scenario's line, with the pick-up delay measured from Sentinel's
 * own `+switch-master`.
 */
export async function masterKill({
  name,
  downAfterMs,
  failoverTimeoutMs = 3_000,
  instances = 2,
  killAfterMs = 1_500,
  fault = "kill",
  kind,
}: {
  name: string;
  downAfterMs: number;
  failoverTimeoutMs?: number;
  instances?: number;
  killAfterMs?: number;
  fault?: MasterFault;
  kind?: ServerKind;
}): Promise<MasterKillRun> {
  return withStack(
    {},
    async ({ topology, apps, load }) => {
      const master = await topology.currentMaster();
      load.start();
      await delay(killAfterMs);
      const killedAt = Date.now();
      if (fault === "kill") await master.process.kill();
      else {
        const [sentinel] = topology.sentinels;
        if (sentinel === undefined) throw new Error("no Sentinel");
        await redisCommand(sentinel.port, "SENTINEL", "FAILOVER", topology.masterName);
      }
      const promoted = await topology.waitForSteadyState();
      await delay(1_500);
      let figures: Pick<MasterKillRun, "failovers" | "pickUpMs"> = {
        failovers: 0,
        pickUpMs: undefined,
      };
      const { stats, verdict } = await load.finish(name, async () => {
        const switches = await topology.switches();
        const first = switches[0];
        const acknowledged = load.firstAcknowledgedAfter(killedAt);
        figures = {
          failovers: new Set(switches.map(({ to }) => to)).size,
          pickUpMs:
            first === undefined || acknowledged === undefined ? undefined : acknowledged - first.at,
        };
        return [
          `first write acknowledged ${String(figures.pickUpMs)} ms after +switch-master`,
          `Sentinel failovers ${figures.failovers}`,
        ];
      });
      const reports = await Promise.all(
        apps.map(async (app) => ({
          events: (await fetch(`${app.url}/store-events`).then((r) => r.json())) as Record<
            string,
            number
          >,
          health: (await fetch(`${app.url}/healthz`).then((r) => r.json())) as HealthReport,
        })),
      );
      return {
        stats,
        verdict,
        ...figures,
        promotedPort: promoted.port,
        killedPort: master.port,
        instances: reports,
      };
    },
    { sentinel: { downAfterMs, failoverTimeoutMs, kind }, instances },
  );
}
