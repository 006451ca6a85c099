import { setTimeout as delay } from "node:timers/promises";
import { keySlot } from "../src/redis/cluster/keySlot.js";
import type { RedisSessionOptions } from "../src/index.js";
import { AppProcess } from "./AppProcess.js";
import { pollUntil } from "./poll.js";
import type { RedisServer } from "./RedisServer.js";
import { redisCommand } from "./redisCommand.js";
import { ClusterStack } from "./ClusterStack.js";
import { UserLoad } from "./UserLoad.js";
import type { ServerKind } from "./serverKind.js";
import type { LoadStats, Verdict } from "./UserLoad.js";

/** How a shard's master is made to fail. */
export type ClusterFault = "kill" | "freeze" | "failover";

/** What one fault under load showed. */
export interface ClusterFaultRun {
  stats: LoadStats;
  verdict: Verdict;
  /**
   * From the fault to the Cluster's own recovery: a replica promoted (or the old master back as
   * master after a freeze it survived) and every running node `cluster_state:ok` with one slot
   * map (ms; measured by polling, so an upper bound).
   */
  clusterRecoveryMs: number;
  /** The longest request of users whose session lives on the failed shard (ms). */
  failedShardStallMs: number;
  /** The longest request of the other users (ms). */
  otherShardsStallMs: number;
  /** Users whose session is on the failed shard. */
  usersOnFailedShard: number;
  /** The `failover` events each app instance's store emitted. */
  failoverEvents: number[];
  /** The `degraded` and `restored` events each app instance's store emitted. */
  durabilityEvents: { degraded: number; restored: number }[];
}

/** How the Cluster is laid out and what follows the fault. */
export interface ClusterFaultSettings {
  /** Replicas per shard (default 2). */
  replicasPerMaster?: number;
  kind?: ServerKind;
  /** After a kill: start the killed node again (it rejoins as a replica) and let writes go on. */
  restart?: boolean;
}

const PREFIX = "sess:";

/**
 * 20 logged-in users keep adding cart items through 2 app instances on a 3-shard Cluster (a master
 * and two replicas each, cluster-node-timeout 2000) while the master of one shard (the one user-1's
 * session is on) is SIGKILLed, frozen for 5 s, or handed over with CLUSTER FAILOVER. Prints the
 * scenario's line.
 */
export async function clusterFault(
  name: string,
  fault: ClusterFault,
  appOptions: Partial<RedisSessionOptions> = {},
  { replicasPerMaster = 2, kind, restart = false }: ClusterFaultSettings = {},
): Promise<ClusterFaultRun> {
  // With one replica per shard, a shard whose master died has none left: its writes are
  // degraded (acknowledged with the copies there are) until the node is back.
  const stack = await ClusterStack.start({ masters: 3, replicasPerMaster, kind });
  const apps: AppProcess[] = [];
  try {
    const options = { redis: stack.redisOption, ...appOptions };
    apps.push(
      ...(await Promise.all([
        AppProcess.start("app-a", options),
        AppProcess.start("app-b", options),
      ])),
    );
    const load = new UserLoad(apps.map((app) => app.url));
    await load.loginAll();
    const shardOf = new Map<string, number>();
    for (const user of load.users) {
      const master = await stack.masterOf(keySlot(PREFIX + (user.browser.sessionId ?? "")));
      shardOf.set(user.name, master.port);
    }
    const victim = await stack.masterOf(keySlot(PREFIX + (load.users[0]?.browser.sessionId ?? "")));
    load.start();
    // Writes acknowledged before the fault (what it could lose), then after the recovery (the
    // shard takes them again): counted, not waited for by the clock.
    await load.acknowledges(100);
    const faultAt = Date.now();
    await inflict(stack, victim, fault);
    await stack.waitHealed(30_000);
    const clusterRecoveryMs = Date.now() - faultAt;
    await load.acknowledges(100);
    if (restart) {
      // Until every instance has written to the shard while it had no replica: 100 writes can
      // all come from the other shards' users while the failed shard's wait out the failover
      // (an instance with none said neither `degraded` nor `restored`, one CI run in many).
      await pollUntil(
        "every instance to report the shard's writes degraded",
        async () => {
          const events = await Promise.all(apps.map((app) => durabilityEventsOf(app.url)));
          return events.every(({ degraded }) => degraded >= 1);
        },
        { timeoutMs: 15_000, intervalMs: 200 },
      );
      await victim.start();
      await stack.waitHealed(30_000);
      await load.acknowledges(200);
      // Each instance sees the replica back on its next writes to the shard: its slot map and
      // what the master says of its replicas are at most a second or so old.
      await pollUntil(
        "every instance to report the shard's writes restored",
        async () => {
          const events = await Promise.all(apps.map((app) => durabilityEventsOf(app.url)));
          return events.every(({ degraded, restored }) => restored >= degraded);
        },
        { timeoutMs: 15_000, intervalMs: 200 },
      );
    }
    const { stats, verdict } = await load.finish(name, () => [
      `Cluster recovered in ${clusterRecoveryMs} ms`,
    ]);
    if (process.env.CLUSTER_FAULT_LOGS && stats.failed > 0) {
      for (const app of apps) console.error(`--- ${app.instance}\n${app.output}`);
    }
    if (verdict.lost.length > 0) {
      // What the nodes and the stores saw around it (the apps' lines are stamped events).
      const when = verdict.lost
        .slice(0, 40)
        .map(
          ({ user, item, acknowledgedAt }) =>
            `${user} ${item} ${new Date(acknowledgedAt).toISOString()}`,
        );
      const appLogs = apps.map((app) => `--- ${app.instance}\n${app.output}`).join("\n");
      console.error(
        `Acknowledged writes lost (fault at ${new Date(faultAt).toISOString()}):\n${when.join("\n")}\n` +
          `${await stack.logs()}\n${appLogs}`,
      );
    }
    let failedShardStallMs = 0;
    let otherShardsStallMs = 0;
    for (const { user, ms } of load.responses) {
      if (shardOf.get(user) === victim.port) failedShardStallMs = Math.max(failedShardStallMs, ms);
      else otherShardsStallMs = Math.max(otherShardsStallMs, ms);
    }
    const usersOnFailedShard = [...shardOf.values()].filter((port) => port === victim.port).length;
    const failoverEvents = await Promise.all(
      apps.map(async (app) => {
        const events = (await fetch(`${app.url}/store-events`).then((r) => r.json())) as {
          failover: number;
        };
        return events.failover;
      }),
    );
    const durabilityEvents = await Promise.all(apps.map((app) => durabilityEventsOf(app.url)));
    console.log(
      `  longest stall on the failed shard (${usersOnFailedShard} users) ${failedShardStallMs} ms, ` +
        `on the others ${otherShardsStallMs} ms; failover events by instance ${failoverEvents.join(", ")}; ` +
        `degraded/restored by instance ${durabilityEvents.map((e) => `${e.degraded}/${e.restored}`).join(", ")}`,
    );
    return {
      stats,
      verdict,
      clusterRecoveryMs,
      failedShardStallMs,
      otherShardsStallMs,
      usersOnFailedShard,
      failoverEvents,
      durabilityEvents,
    };
  } catch (error) {
    const appLogs = apps.map((app) => `--- ${app.instance}\n${app.output}`).join("\n");
    console.error(`Logs of the failed scenario:\n${await stack.logs()}\n${appLogs}`);
    throw error;
  } finally {
    await Promise.all(apps.map((app) => app.stop()));
    await stack.stop();
  }
}

async function inflict(stack: ClusterStack, master: RedisServer, fault: ClusterFault) {
  switch (fault) {
    case "kill":
      await master.process.kill();
      return;
    case "freeze":
      master.process.pause();
      await delay(5_000);
      master.process.resume();
      return;
    case "failover": {
      const [replica] = await stack.replicasOf(master);
      if (replica === undefined) throw new Error(`master ${master.port} has no replica`);
      await redisCommand(replica.port, "CLUSTER", "FAILOVER");
      return;
    }
  }
}

/** The `degraded` and `restored` events an app instance's store emitted so far. */
async function durabilityEventsOf(url: string): Promise<{ degraded: number; restored: number }> {
  const response = await fetch(`${url}/durability-events`);
  return (await response.json()) as { degraded: number; restored: number };
}
