import { Redis } from "ioredis";
import { afterAll, beforeAll } from "vitest";
import { RedisSessionStore } from "../../../src/index.js";
import type { RedisTopology } from "../../../src/index.js";
import { useSingleNode } from "../../support/hooks.js";
import type { StoreMode } from "./contract.js";

/**
 * A single Redis node for one test file, and stores on it that connect as `topology()` says (the
 * default user, an ACL user, a client passed in), each on a prefix of its own under `prefix`.
 */
export function useSingleNodeStores(
  topology: (url: string, port: number) => RedisTopology = (url) => url,
  prefix = "",
): StoreMode & { readonly port: number; readonly single: Redis } {
  const redis = useSingleNode();
  let single: Redis | undefined;
  let count = 0;
  beforeAll(() => {
    single = new Redis(redis.current.server.port, "127.0.0.1");
  });
  afterAll(async () => {
    await single?.quit();
  });
  return {
    get single(): Redis {
      if (single === undefined) throw new Error("used outside a test");
      return single;
    },
    get client(): Redis {
      return this.single;
    },
    get port(): number {
      return redis.current.server.port;
    },
    newStore(options = {}) {
      const { prefix: given, ...rest } = options;
      const storePrefix = `${prefix}${given ?? `t${++count}:`}`;
      const redisOption = topology(redis.current.url, redis.current.server.port);
      const store = new RedisSessionStore({ redis: redisOption, prefix: storePrefix, ...rest });
      return { store, prefix: storePrefix };
    },
    serverOf() {
      return Promise.resolve(redis.current.server.process);
    },
  };
}
