import type { SessionData } from "express-session";
import { expect, test } from "vitest";
import { RedisSessionStore } from "../../src/index.js";
import { keySlot } from "../../src/redis/cluster/keySlot.js";
import { pollUntil } from "../../harness/poll.js";
import { redisCommand } from "../../harness/redisCommand.js";
import { useCluster } from "../support/hooks.js";
import { call } from "../support/call.js";

// A CLUSTER FAILOVER demotes the master while a write's WAIT is blocked on it: the master
// answers that WAIT `-UNBLOCKED … (master -> replica?)` and closes the connection. Seen in
// `npm run chaos -- --cluster --fault failover` (2 requests answered 500 in 1 run of 10); the
// write must be redone on the new master instead. To hold a WAIT blocked at that moment, one of
// the shard's two replicas is frozen (it stays connected, so it is waited for) while the other
// takes over.
const cluster = useCluster({ masters: 3, replicasPerMaster: 2 });
const session = () => JSON.parse('{"cookie":{"originalMaxAge":60000},"n":7}') as SessionData;

test("a write whose WAIT the demoted master unblocks is redone on the new master", async () => {
  const stack = cluster.current;
  const id = "unblocked-1";
  const store = new RedisSessionStore({ redis: stack.redisOption, prefix: "ub:" });
  try {
    await call((done) => store.set("warm-up", session(), done));
    const master = await stack.masterOf(keySlot(`ub:${id}`));
    const [frozen, next] = await stack.replicasOf(master);
    if (frozen === undefined || next === undefined) throw new Error("two replicas expected");
    frozen.process.pause();
    try {
      const write = call((done) => store.set(id, session(), done)).then(
        () => "acknowledged",
        (error: unknown) => error,
      );
      // The write is in, its WAIT blocked on the frozen replica (100 ms at a time).
      await new Promise((resolve) => setTimeout(resolve, 500));
      await redisCommand(next.port, "CLUSTER", "FAILOVER");
      await pollUntil("the replica to take over", async () =>
        String(await redisCommand(next.port, "ROLE")).startsWith("master"),
      );
      frozen.process.resume();
      expect(await write).toBe("acknowledged");
    } finally {
      frozen.process.resume();
    }
    expect(await call((done) => store.get(id, done))).toMatchObject({ n: 7 });
    expect(String(await redisCommand(next.port, "ROLE"))).toMatch(/^master/);
  } finally {
    await store.close();
  }
});
