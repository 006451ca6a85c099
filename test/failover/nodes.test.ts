import { expect, test } from "vitest";
import { withStack } from "../../harness/failoverStack.js";

// Losing a node that is not the master must go unnoticed by the 20 users clicking.

test("a replica SIGKILLed: no request fails", async () => {
  await withStack({}, async ({ topology, load }) => {
    const master = await topology.currentMaster();
    const replica = topology.servers.find((server) => server !== master);
    load.start();
    await load.acknowledges(200);
    await replica?.process.kill();
    await load.acknowledges(400);
    const { stats, verdict } = await load.finish("replica SIGKILL");
    expect(stats.requests).toBeGreaterThan(100);
    expect(stats.failed).toBe(0);
    expect(verdict).toEqual({ loggedOut: 0, acknowledgedLost: 0, lost: [] });
  });
});

test("one Sentinel SIGKILLed: no request fails", async () => {
  await withStack({}, async ({ topology, load }) => {
    load.start();
    await load.acknowledges(200);
    await topology.sentinels[0]?.process.kill();
    await load.acknowledges(400);
    const { stats, verdict } = await load.finish("one Sentinel SIGKILL");
    expect(stats.requests).toBeGreaterThan(100);
    expect(stats.failed).toBe(0);
    expect(verdict).toEqual({ loggedOut: 0, acknowledgedLost: 0, lost: [] });
  });
});
