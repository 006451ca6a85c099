import { describe, expect, test } from "vitest";
import { withStack } from "../../harness/failoverStack.js";
import { redisCommand } from "../../harness/redisCommand.js";
import { SERVER_KINDS } from "../../harness/serverKind.js";

// A planned failover (`SENTINEL FAILOVER`, what operators and managed services run for
// maintenance): every node stays up. Sentinel promotes one replica with REPLICAOF NO ONE, and only
// then re-points the old master and the other replica, which until then keep taking writes and
// confirming them (redis/redis#6062). 20 users keep adding cart items through two instances.

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
});
