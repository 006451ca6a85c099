import { describe, expect, test } from "vitest";
import { withStack } from "../../harness/failoverStack.js";
import { redisCommand } from "../../harness/redisCommand.js";
import { SERVER_KINDS } from "../../harness/serverKind.js";

// A planned failover (`SENTINEL FAILOVER`, what operators and managed services run for
// maintenance): every node stays up. Sentinel promotes one replica with REPLICAOF NO ONE, and only
// then re-points the old master and the other replica, which until then keep taking writes and
// confirming them (redis/redis#6062). 20 users keep adding cart items through two instances.
// Waiting for a replica (the default) loses nothing; `replicas: 0` loses what the old master
// acknowledged between the promotion and the switch the instances follow (~1 s).

describe.each(SERVER_KINDS)("%s", (kind) => {
  test("SENTINEL FAILOVER under load: no request fails, no acknowledged write is lost", async () => {
    await withStack(
      {},
      async ({ topology, load }) => {
        const master = await topology.currentMaster();
        load.start();
        await load.acknowledges(300);
        const sentinel = topology.sentinels[0];
        if (sentinel === undefined) throw new Error("no Sentinel");
        await redisCommand(sentinel.port, "SENTINEL", "FAILOVER", topology.masterName);
        const promoted = await topology.waitForSteadyState();
        await load.acknowledges(300);
        const { stats, verdict } = await load.finish(`${kind}: SENTINEL FAILOVER`);
        expect(promoted).not.toBe(master);
        expect(stats.requests).toBeGreaterThan(600);
        expect(verdict).toEqual({ loggedOut: 0, acknowledgedLost: 0, lost: [] });
        expect(stats.failed).toBe(0);
        expect(stats.loggedOut).toBe(0);
      },
      { sentinel: { kind, downAfterMs: 2_000 } },
    );
  });

  test("SENTINEL FAILOVER with replicas 0: only writes acknowledged before the switch are lost", async () => {
    await withStack(
      { durability: { replicas: 0 } },
      async ({ topology, load }) => {
        load.start();
        await load.acknowledges(300);
        const sentinel = topology.sentinels[0];
        if (sentinel === undefined) throw new Error("no Sentinel");
        const asked = Date.now();
        await redisCommand(sentinel.port, "SENTINEL", "FAILOVER", topology.masterName);
        await topology.waitForSteadyState();
        await load.acknowledges(300);
        const { stats, verdict } = await load.finish(`${kind}: SENTINEL FAILOVER, replicas 0`);
        const switched = (await topology.switches())[0]?.at ?? Number.NaN;
        // What the old master acknowledged after the promoted replica left it, until the
        // instances followed the switch Sentinel announced (a second's margin for following).
        const late = verdict.lost.filter(
          ({ acknowledgedAt }) => acknowledgedAt < asked || acknowledgedAt > switched + 1_000,
        );
        const times = verdict.lost.map(({ acknowledgedAt }) => acknowledgedAt - asked);
        const window =
          times.length === 0
            ? "none lost"
            : `${times.length} lost, acknowledged ${Math.min(...times)}–${Math.max(...times)} ms after SENTINEL FAILOVER`;
        console.log(
          `${kind}: replicas 0: ${window}; first +switch-master at ${switched - asked} ms`,
        );
        expect(switched - asked).toBeLessThan(5_000);
        expect(late).toEqual([]);
        expect(stats.loggedOut + verdict.loggedOut).toBe(0);
      },
      { sentinel: { kind, downAfterMs: 2_000 } },
    );
  });
});
