import { setTimeout as delay } from "node:timers/promises";
import { expect, test } from "vitest";
import { Browser } from "../../harness/Browser.js";
import { pollUntil } from "../../harness/poll.js";
import { LaunchedDemo } from "./launchDemo.js";

/** What 20 users saw through HAProxy, idempotent requests apart from the rest. */
interface Seen {
  idempotent: number;
  idempotentFailed: number;
  posts: number;
  postsFailed: number;
  /** Failed POSTs that were in flight while app-2 was killed: [started, ended, status]. */
  postsFailedAt: [number, number, number][];
  loggedOut: number;
  failures: Partial<Record<string, number>>;
  /** The first failures, with when and what came back, for the log. */
  examples: string[];
}

test("20 users through HAProxy: an app instance and then the Redis master killed, nobody notices", async () => {
  const demo = await LaunchedDemo.start();
  try {
    // The control panel's own synthetic users are not part of this count.
    await demo.control("/api/users", { count: 0 });
    const { url } = demo.info;
    const users = ["alice", "bob", "carol", "dave"].flatMap((name) =>
      Array.from({ length: 5 }, () => ({ name, browser: new Browser() })),
    );
    for (const user of users) {
      const response = await user.browser.request(`${url}/login`, {
        method: "POST",
        json: { username: user.name, password: `${user.name}-demo-password` },
      });
      expect(response.status).toBe(200);
    }

    const seen: Seen = {
      idempotent: 0,
      idempotentFailed: 0,
      posts: 0,
      postsFailed: 0,
      postsFailedAt: [],
      loggedOut: 0,
      failures: {},
      examples: [],
    };
    const started = Date.now();
    let running = true;
    const loops = users.map(async (user, index) => {
      for (let step = 0; running; step++) {
        const post = step % 3 === 2;
        const sentAt = Date.now();
        const response: { status: number; body?: unknown } = await user.browser
          .request(`${url}${post ? "/api/cart" : step % 2 ? "/api/cart" : "/api/me"}`, {
            method: post ? "POST" : "GET",
            json: post ? { item: `item-${index}-${step}` } : undefined,
          })
          .catch((error: unknown) => ({
            status: 0,
            body: error instanceof Error ? error.message : "",
          }));
        const ok = response.status >= 200 && response.status < 300;
        if (post) {
          seen.posts++;
          if (!ok) {
            seen.postsFailed++;
            seen.postsFailedAt.push([sentAt, Date.now(), response.status]);
          }
        } else {
          seen.idempotent++;
          if (!ok) seen.idempotentFailed++;
        }
        if (response.status === 401) seen.loggedOut++;
        if (!ok) {
          seen.failures[response.status] = (seen.failures[response.status] ?? 0) + 1;
          const body = (JSON.stringify(response.body) as string | undefined)?.slice(0, 200);
          seen.examples.push(`${Date.now() - started} ms: ${response.status} ${body}`);
        }
        await delay(50);
      }
    });

    await delay(2_000);
    console.log(`${Date.now() - started} ms: killing app-2`);
    const killFrom = Date.now();
    await demo.control("/api/instances/app-2/kill");
    const killTo = Date.now();
    await delay(3_000);
    const before = (await demo.state()).redis.master?.name;
    console.log(`${Date.now() - started} ms: killing the master`);
    await demo.control("/api/redis/master/kill");
    await pollUntil("a new master", async () => {
      const master = (await demo.state()).redis.master?.name;
      return master !== undefined && master !== before;
    });
    await delay(3_000);
    running = false;
    await Promise.all(loops);

    const stillIn = await Promise.all(
      users.map(async (user) => (await user.browser.request(`${url}/api/me`)).status === 200),
    );
    // A POST is never sent twice (HAProxy re-sends only idempotent requests), so one that app-2
    // was running when it was SIGKILLed fails (a 502, or the connection cut if its answer had
    // begun) — at most one per user; any other failed POST (the master's failover among them)
    // is a failure of the promise.
    const outsideTheKill = seen.postsFailedAt.filter(
      ([sentAt, answeredAt, status]) =>
        (status !== 502 && status !== 0) || sentAt > killTo || answeredAt < killFrom,
    );
    const relative = (at: number) => at - killFrom;
    console.log(
      `app-2 killed ${killFrom - started}–${killTo - started} ms; failed POSTs, sent–answered ` +
        `relative to the kill: ${JSON.stringify(
          seen.postsFailedAt.map(([a, b, status]) => [relative(a), relative(b), status]),
        )}`,
    );
    console.log(
      `through HAProxy: ${seen.idempotent} idempotent requests, ${seen.idempotentFailed} failed; ` +
        `${seen.posts} POSTs, ${seen.postsFailed} failed (${outsideTheKill.length} of them not in ` +
        `flight on app-2 when it was killed); ` +
        `${seen.loggedOut} logged-out answers; ` +
        `failures by status ${JSON.stringify(seen.failures)}`,
      ...seen.examples.slice(0, 5),
    );
    if (seen.idempotentFailed > 0 || outsideTheKill.length > 0) {
      console.error(`What the instances logged:\n${demo.libraryLog}\n${await demo.redisLogs()}`);
    }
    expect(seen.idempotent).toBeGreaterThan(200);
    expect(seen.idempotentFailed).toBe(0);
    expect(seen.posts).toBeGreaterThan(100);
    expect(outsideTheKill).toEqual([]);
    expect(seen.postsFailed).toBeLessThanOrEqual(users.length);
    expect(seen.loggedOut).toBe(0);
    expect(stillIn.filter((loggedIn) => !loggedIn)).toEqual([]);

    // Whichever instance answers has written durably and followed the failover, and says so.
    const metrics = await fetch(`${url}/metrics`);
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    const value = (name: string) =>
      Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, "m").exec(text)?.[1]);
    expect(value("rhs_session_write_batch_size_count")).toBeGreaterThan(0);
    expect(value("rhs_session_failovers_total")).toBeGreaterThanOrEqual(1);
    // The DB cache's counters, from the package's exporter as well.
    expect(text).toContain("# TYPE rhs_cache_hits_total counter");
    expect(value("process_resident_memory_bytes")).toBeGreaterThan(0);
  } finally {
    await demo.interrupt();
  }
});
