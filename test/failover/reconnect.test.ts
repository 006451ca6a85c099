import { once } from "node:events";
import { Redis } from "ioredis";
import { afterEach, expect, test } from "vitest";
import { RedisSessionStore } from "../../src/index.js";
import type { SessionData } from "express-session";
import { SentinelStack } from "../../harness/stacks.js";

// How the store's connections reach a new master when Sentinel's +switch-master arrives at an
// awkward moment. Each test starts its own topology: it ends with a failover.

let topology: SentinelStack | undefined;
afterEach(async () => {
  await topology?.stop();
  topology = undefined;
});

function session(user: string): SessionData {
  const cookie = { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000).toISOString() };
  return { cookie, user } as unknown as SessionData;
}

function save(store: RedisSessionStore, sid: string, data: SessionData): Promise<void> {
  return new Promise((resolve, reject) => {
    store.set(sid, data, (error) => {
      if (error === undefined || error === null) resolve();
      else reject(error instanceof Error ? error : new Error("the store failed with a non-Error"));
    });
  });
}

/** Resolves once `port`'s Sentinel has published +switch-master. */
async function switchAnnounced(port: number): Promise<void> {
  const subscriber = new Redis(port, "127.0.0.1");
  await subscriber.subscribe("+switch-master");
  return once(subscriber, "message").then(() => subscriber.disconnect());
}

test("a +switch-master arriving while the client asks a Sentinel for the master does not end its connections", async () => {
  topology = await SentinelStack.start();
  const [asked, ...others] = topology.sentinels;
  if (asked === undefined) throw new Error("no Sentinel");
  // The store asks the first Sentinel of its list first, and keeps asking it first.
  const store = new RedisSessionStore({
    redis: topology.redisOption,
    unavailable: { waitMs: 8_000 },
  });
  try {
    await save(store, "before", session("alice"));
    const old = await topology.currentMaster();
    const announced = Promise.all(others.map((sentinel) => switchAnnounced(sentinel.port)));

    // The Sentinel the store's connections ask while they reconnect takes its time to answer
    // (frozen), and the other two fail over meanwhile and announce it.
    asked.process.pause();
    await old.process.kill();
    await announced;
    asked.process.resume();
    const promoted = await topology.waitForSteadyState();

    await save(store, "after", session("bob"));
    const onPromoted = new Redis(promoted.port, "127.0.0.1");
    try {
      expect(await onPromoted.hget("sess:after", "user")).toBe('"bob"');
    } finally {
      onPromoted.disconnect();
    }
    expect(store.connection.master).toBe(`127.0.0.1:${promoted.port}`);
  } finally {
    await store.close();
  }
});

test("a connection waiting out its reconnect back-off moves to the master Sentinel announces at once", async () => {
  topology = await SentinelStack.start();
  // A back-off far longer than the wait bound: only the announcement can bring the store back in
  // time.
  const store = new RedisSessionStore({
    redis: { ...topology.redisOption, options: { retryStrategy: () => 60_000 } },
    unavailable: { waitMs: 8_000 },
  });
  try {
    await save(store, "before", session("alice"));
    const old = await topology.currentMaster();
    const announced = switchAnnounced(topology.sentinels[0]?.port ?? 0);
    await old.process.kill();
    await announced;
    await save(store, "after", session("bob"));
    const promoted = await topology.waitForSteadyState();
    expect(store.connection.master).toBe(`127.0.0.1:${promoted.port}`);
  } finally {
    await store.close();
  }
});
