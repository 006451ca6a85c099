import { Cluster } from "ioredis";
import { afterAll, beforeAll, describe } from "vitest";
import { RedisSessionStore } from "../../../src/index.js";
import { keySlot } from "../../../src/redis/cluster/keySlot.js";
import { useCluster } from "../../support/hooks.js";
import { contract } from "./contract.js";
import type { StoreMode } from "./contract.js";

const cluster = useCluster({ masters: 3, replicasPerMaster: 1 });
let clusterClient: Cluster | undefined;
let count = 0;
beforeAll(() => {
  clusterClient = new Cluster(cluster.current.redisOption.cluster);
});
afterAll(async () => {
  await clusterClient?.quit();
});

const mode: StoreMode = {
  get client(): Cluster {
    if (clusterClient === undefined) throw new Error("used outside a test");
    return clusterClient;
  },
  newStore(options = {}) {
    const { prefix: given, ...rest } = options;
    const prefix = given ?? `t${++count}:`;
    const store = new RedisSessionStore({ redis: cluster.current.redisOption, prefix, ...rest });
    return { store, prefix };
  },
  async serverOf(key) {
    return (await cluster.current.masterOf(keySlot(key))).process;
  },
};

describe("on a Redis Cluster (3 masters, a replica each; writes confirmed per shard)", () => {
  contract(mode);
});
