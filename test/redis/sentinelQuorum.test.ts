import { setTimeout as delay } from "node:timers/promises";
import { describe, expect, test } from "vitest";
import { Browser } from "../../harness/Browser.js";
import { useSentinel } from "../support/hooks.js";
import { useServer } from "../support/http.js";
import { pollUntil } from "../../harness/poll.js";
import { createTestApp } from "../../harness/app/testApp.js";

// A durable write is acknowledged only on the master a Sentinel majority names; with
// `durability.fenceReads` a read too. Two of the three Sentinels are frozen (SIGSTOP): they keep
// their sockets and answer nothing, as Sentinels beyond a partition do.
const redis = useSentinel();
const unavailable = { waitMs: 1_500, retryAfterSeconds: 1 };
const plain = useServer(() => createTestApp({ redis: redis.current.redisOption, unavailable }).app);
const fenced = useServer(
  () =>
    createTestApp({
      redis: redis.current.redisOption,
      unavailable,
      durability: { fenceReads: true },
    }).app,
);
// Waits long enough for the frozen Sentinels to be back.
const patient = useServer(
  () =>
    createTestApp({
      redis: redis.current.redisOption,
      unavailable: { waitMs: 5_000, retryAfterSeconds: 1 },
    }).app,
);

describe("the Sentinel majority", () => {
  test("without it nothing is acknowledged, and fenced reads answer 503; with it back, both work", async () => {
    const browser = new Browser();
    await browser.request(`${plain.url}/login`, { method: "POST", json: { user: "ann" } });
    expect((await browser.request(`${fenced.url}/me`)).body).toMatchObject({ user: "ann" });
    const [, second, third] = redis.current.sentinels;
    second?.process.pause();
    third?.process.pause();
    try {
      // Their last answers are a second old soon; from then on no write is acknowledged.
      let attempt = 0;
      const refused = await pollUntil(
        "a write to be refused",
        async () => {
          // A new value each time: an unchanged session would not be written at all.
          const response = await browser.request(`${plain.url}/session/theme`, {
            method: "PUT",
            json: { value: `dark-${attempt++}` },
          });
          return response.status === 503 ? response : false;
        },
        { timeoutMs: 10_000, intervalMs: 100 },
      );
      expect(refused.body).toMatchObject({ error: "session_store_unavailable" });
      // Reads: served as they are without the option, 503 with it.
      expect((await browser.request(`${plain.url}/me`)).body).toMatchObject({ user: "ann" });
      expect((await browser.request(`${fenced.url}/me`)).status).toBe(503);
    } finally {
      second?.process.resume();
      third?.process.resume();
    }
    await pollUntil(
      "writes to be acknowledged again",
      async () => {
        const response = await browser.request(`${plain.url}/session/theme`, {
          method: "PUT",
          json: { value: "light" },
        });
        return response.status === 200;
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    expect((await browser.request(`${fenced.url}/session`)).body).toMatchObject({
      data: { user: "ann", theme: "light" },
    });
  });

  // Seen right after a failover in the demo: a write is sent again when its first try landed but
  // was not acknowledged (no majority named that master yet), and a read from such a master
  // makes the write check the fields it changes. The second try found the first one's values.
  test("a write sent again while it waited for the majority is acknowledged once it is back", async () => {
    const browser = new Browser();
    const add = (item: string) =>
      browser.request(`${patient.url}/cart`, { method: "POST", json: { item } });
    await browser.request(`${patient.url}/login`, { method: "POST", json: { user: "bea" } });
    expect((await add("tea")).status).toBe(200);
    const [, second, third] = redis.current.sentinels;
    second?.process.pause();
    third?.process.pause();
    // Their answers over a second old: this read is not vouched for, nor is its write.
    const pending = delay(1_200).then(() => add("milk"));
    try {
      await delay(1_700);
    } finally {
      second?.process.resume();
      third?.process.resume();
    }
    expect((await pending).status).toBe(200);
    expect((await browser.request(`${patient.url}/cart`)).body).toMatchObject({
      cart: ["tea", "milk"],
    });
  });
});
