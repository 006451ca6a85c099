import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { PartitionStack } from "../../harness/netns/PartitionStack.js";
import { RedisSessionStore } from "../../src/index.js";
import { partitionsUnavailable } from "./support.js";

describe.skipIf(partitionsUnavailable !== undefined)("Sentinels behind a partition", () => {
  let stack: PartitionStack;
  beforeAll(async () => {
    stack = await PartitionStack.start({ apps: false });
  });
  afterAll(async () => {
    await stack.stop();
  });

  test("a Sentinel that drops every packet is passed over after the 500 ms connect timeout", async () => {
    // The first Sentinel in the list drops every packet from this process, as a partitioned
    // host does: no refusal, no reset, nothing.
    await stack.network.deafenToObserver("s1");
    const store = new RedisSessionStore({ redis: stack.redisOption });
    try {
      const started = performance.now();
      const found = await store.get("no-such-session");
      const elapsed = performance.now() - started;
      expect(found).toBeNull();
      expect(elapsed).toBeLessThan(1_000);
    } finally {
      await store.close();
      await stack.network.heal();
    }
  });
});
