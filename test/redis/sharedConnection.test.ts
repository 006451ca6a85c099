import type { SessionData } from "express-session";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createRedisClient, RedisSessionStore } from "../../src/index.js";
import { pollUntil } from "../../harness/poll.js";
import { useSentinel } from "../support/hooks.js";

// A master with 2 replicas; durable writes open writer connections beside the client.
const redis = useSentinel();
let master: Redis;

beforeAll(async () => {
  master = new Redis((await redis.current.currentMaster()).port, "127.0.0.1");
});
afterAll(async () => {
  await master.quit();
});

/** Connections the master has from clients named `name` (writer connections keep the name). */
async function connectionsNamed(name: string): Promise<number> {
  const list = (await master.call("CLIENT", "LIST")) as string;
  return list.split("\n").filter((line) => line.includes(` name=${name} `)).length;
}

function session(user: string): SessionData {
  const data: Record<string, unknown> = { cookie: { originalMaxAge: 60_000 }, user };
  return data as unknown as SessionData;
}

async function save(store: RedisSessionStore, sid: string, data: SessionData): Promise<void> {
  await store.set(sid, data);
}

async function load(store: RedisSessionStore, sid: string): Promise<unknown> {
  return store.get(sid);
}

describe("a connection set shared by every store on one client", () => {
  test("two stores on one createRedisClient client open one client and one pair of writer connections", async () => {
    const client = createRedisClient({
      ...redis.current.redisOption,
      options: { connectionName: "shared-set" },
    });
    const first = new RedisSessionStore({ redis: client, durability: { replicas: 1 } });
    const second = new RedisSessionStore({ redis: client, durability: { replicas: 1 } });
    await save(first, "one", session("alice"));
    await save(second, "two", session("bob"));
    // The client and two writer connections, not two of them per store.
    expect(await connectionsNamed("shared-set")).toBe(3);

    await first.close();
    // The other store goes on writing durably on the same connections.
    await save(second, "three", session("carol"));
    expect(await load(second, "three")).toMatchObject({ user: "carol" });
    expect(await connectionsNamed("shared-set")).toBe(3);

    await second.close();
    // The last store gone, the writer connections close; the client stays, its creator's to close.
    await pollUntil("the writer connections to close", async () =>
      (await connectionsNamed("shared-set")) === 1 ? true : undefined,
    );
    expect(client.status).toBe("ready");
    expect(await client.exists("sess:one", "sess:two", "sess:three")).toBe(3);
    await client.quit();
  });
});
