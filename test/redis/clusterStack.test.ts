import { readFile } from "node:fs/promises";
import { describe, expect, test } from "vitest";
import { ClusterStack } from "../../harness/ClusterStack.js";
import type { RedisServer } from "../../harness/RedisServer.js";
import { redisCommand } from "../../harness/redisCommand.js";

// The Cluster harness the Cluster tests stand on: 3 shards of a master and a replica on free
// ports (bus ports too), healed when every node agrees; a shard's master killed, its replica takes
// over and the harness sees the cluster healed again.
describe("the Cluster harness", () => {
  test("3 masters and 3 replicas, every slot served, a killed master replaced by its replica", async () => {
    const stack = await ClusterStack.start({ masters: 3, replicasPerMaster: 1 });
    try {
      const masters = await stack.masters();
      expect(masters).toHaveLength(3);
      for (const master of masters) expect(await stack.replicasOf(master)).toHaveLength(1);
      for (const server of stack.servers) {
        const bus = Number(
          /^cluster-port (\d+)$/m.exec(await readFile(server.configFile, "utf8"))?.[1],
        );
        expect(bus).not.toBe(server.port + 10_000);
        expect(String(await redisCommand(server.port, "CONFIG", "GET", "appendonly"))).toContain(
          "yes",
        );
      }

      const old = await stack.masterOf(0);
      const [replica] = await stack.replicasOf(old);
      await old.process.kill();
      await stack.waitHealed(30_000);
      const promoted: RedisServer = await stack.masterOf(0);
      expect(promoted).toBe(replica);
      expect(await stack.masters()).toHaveLength(3);
    } finally {
      await stack.stop();
    }
  }, 90_000);
});
