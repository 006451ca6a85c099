import { setTimeout as delay } from "node:timers/promises";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AppProcess } from "../../harness/AppProcess.js";
import { Browser } from "../../harness/Browser.js";
import { SentinelStack, SingleNodeStack } from "../../harness/stacks.js";
import type { RedisServer } from "../../harness/RedisServer.js";
import type { RedisTopology } from "../../src/index.js";

// An app host whose clock disagrees with Redis' (no NTP in a container or VM): libfaketime shifts
// the clock of the app's Node.js process alone. Redis keeps the machine's clock.
const LIBFAKETIME = `/usr/lib/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu/faketime/libfaketime.so.1`;
const waitMs = 1_000;

function shiftedClock(seconds: number): Record<string, string> {
  if (seconds === 0) return {};
  return {
    LD_PRELOAD: LIBFAKETIME,
    FAKETIME: `${seconds > 0 ? "+" : ""}${seconds}s`,
    // Timers run on the monotonic clock; only the wall clock is off, as with a badly set host.
    FAKETIME_DONT_FAKE_MONOTONIC: "1",
  };
}

interface Setup {
  name: string;
  start(): Promise<{ redis: RedisTopology; master: RedisServer; stop(): Promise<void> }>;
}

const setups: Setup[] = [
  {
    name: "Sentinel, durability 1 replica",
    async start() {
      // down-after well above the freeze below, so Sentinel leaves the master in place.
      const topology = await SentinelStack.start({ downAfterMs: 10_000 });
      return {
        redis: topology.redisOption,
        master: await topology.currentMaster(),
        stop: () => topology.stop(),
      };
    },
  },
  {
    name: "one node, durability 0",
    async start() {
      const topology = await SingleNodeStack.start();
      return { redis: topology.url, master: topology.server, stop: () => topology.stop() };
    },
  },
];

describe.each(setups)("$name", (setup) => {
  let stack: Awaited<ReturnType<Setup["start"]>>;
  beforeAll(async () => {
    stack = await setup.start();
  });
  afterAll(async () => {
    await stack.stop();
  });

  describe.each([-30, 0, 30])("app clock %i s off Redis'", (seconds) => {
    let app: AppProcess;
    beforeAll(async () => {
      const options = { redis: stack.redis, unavailable: { waitMs } } as const;
      app = await AppProcess.start(`skewed${seconds}`, options, shiftedClock(seconds));
      // The shift took (libfaketime is there and preloaded): else every case below would run on
      // the real clock and prove nothing.
      const asked = Date.now();
      const { now } = (await (await fetch(`${app.url}/clock`)).json()) as { now: number };
      const offsetMs = now - (asked + Date.now()) / 2;
      console.log(`app clock ${seconds} s off: measured ${Math.round(offsetMs)} ms`);
      expect(Math.abs(offsetMs - seconds * 1000)).toBeLessThan(2_000);
    });
    afterAll(async () => {
      await app.stop();
    });

    test("10 users × 20 writes: every write acknowledged, none lost", async () => {
      const users = Array.from({ length: 10 }, (_, i) => ({
        name: `u${i}`,
        browser: new Browser(),
      }));
      const acknowledged = await Promise.all(
        users.map(async ({ name, browser }) => {
          const login = await browser.request(`${app.url}/login`, {
            method: "POST",
            json: { user: name },
          });
          if (login.status !== 200) return 0;
          let count = 0;
          for (let i = 1; i <= 20; i++) {
            const response = await browser.request(`${app.url}/cart`, {
              method: "POST",
              json: { item: `${name}-${i}` },
            });
            if (response.status === 200) count++;
          }
          const cart = await browser.request(`${app.url}/cart`);
          expect((cart.body as { cart: string[] }).cart).toHaveLength(count);
          return count;
        }),
      );
      expect(acknowledged).toEqual(users.map(() => 20));
    });

    test("a write Redis takes only after its request was answered 503 is dropped", async () => {
      const browser = new Browser();
      await browser.request(`${app.url}/login`, { method: "POST", json: { user: "late" } });
      const put = (value: string) =>
        browser.request(`${app.url}/session/theme`, { method: "PUT", json: { value } });
      expect((await put("light")).status).toBe(200);

      // The request reads its session, then changes it 800 ms later: by then the master is
      // frozen, so the write waits in its socket past the request's deadline (503).
      const slow = browser.request(`${app.url}/slow/theme?ms=800`, { method: "PUT" });
      await delay(300);
      stack.master.process.pause();
      try {
        expect((await slow).status).toBe(503);
      } finally {
        stack.master.process.resume();
      }
      const redis = new Redis(stack.master.port, "127.0.0.1");
      try {
        // Once the woken master answers a new connection, it has run what was waiting for it.
        await redis.ping();
        const key = `sess:${browser.sessionId ?? ""}`;
        expect(await redis.hget(key, "theme")).toBe('"light"');
      } finally {
        redis.disconnect();
      }
      // And the session works on.
      expect((await put("blue")).status).toBe(200);
      const { data } = (await browser.request(`${app.url}/session`)).body as {
        data: { theme?: string };
      };
      expect(data.theme).toBe("blue");
    });
  });
});
