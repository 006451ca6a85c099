import { setTimeout as delay } from "node:timers/promises";
import { describe, expect, test } from "vitest";
import { Browser } from "../../harness/Browser.js";
import { createTestApp } from "../../harness/app/testApp.js";
import { redisCommand, redisInfo } from "../../harness/redisCommand.js";
import type { RedisServer } from "../../harness/RedisServer.js";
import type { RedisStack } from "../../harness/RedisStack.js";
import type { RedisTopology } from "../../src/index.js";
import { useServer } from "./http.js";

// readFrom "replica": reads spread over caught-up replicas, and a user always sees their own
// acknowledged writes and logouts, from either of two app instances, while replicas lag. The
// same tests on a Sentinel topology and on a Cluster (replicaReads.test.ts,
// clusterReplicaReads.test.ts).

/** Write-then-read pairs per client; `RYW_PAIRS=500` for the long run. */
const PAIRS = Number(process.env.RYW_PAIRS ?? 100);

/**
 * The ways a route saves its session (see the test app's `POST /cart/:via`): the middleware at
 * the end, the route's own save(), regenerate then save(), login(), logout() then login().
 */
const SAVE_PATHS = ["end", "save", "regenerate", "login", "relogin"] as const;

/** HGETALL calls each node served since its stats were reset. */
async function hgetallCalls(nodes: RedisServer[]): Promise<number[]> {
  return Promise.all(
    nodes.map(async (node) => {
      const stats = await redisInfo(node.port, "commandstats");
      return Number(/calls=(\d+)/.exec(stats.get("cmdstat_hgetall") ?? "")?.[1] ?? 0);
    }),
  );
}

/** Pauses `replicas` for `ms` out of every 2 × `ms`, until `stop` resolves. */
async function lagInBursts(replicas: RedisServer[], ms: number, stop: Promise<unknown>) {
  const state = { done: false };
  void stop.finally(() => (state.done = true));
  while (!state.done) {
    for (const replica of replicas) replica.process.pause();
    await delay(ms);
    for (const replica of replicas) replica.process.resume();
    await delay(ms);
  }
}

export interface ReplicaReadTopology {
  readonly current: RedisStack & {
    readonly redisOption: RedisTopology;
    readonly servers: RedisServer[];
  };
}

/**
 * The replica-read tests on `redis`; `roles` names its masters now and the replicas to make lag
 * (on a Cluster, one of each shard).
 */
export function replicaReadSuite(
  name: string,
  redis: ReplicaReadTopology,
  roles: () => Promise<{ masters: RedisServer[]; lagging: RedisServer[] }>,
): void {
  const options = () => ({ redis: redis.current.redisOption, readFrom: "replica" as const });
  const a = useServer(() => createTestApp(options(), "a").app);
  const b = useServer(() => createTestApp(options(), "b").app);

  describe(`readFrom: "replica" on ${name}`, () => {
    test("authenticated reads go to the replicas: the master serves at most 10 % of them", async () => {
      const users = Array.from({ length: 20 }, () => new Browser());
      await Promise.all(
        users.map((user, i) =>
          user.request(`${a.url}/login`, { method: "POST", json: { user: `r${i}` } }),
        ),
      );
      // Past the freshness window, so that replicas qualify for what the logins wrote.
      await delay(400);
      const nodes = redis.current.servers;
      for (const node of nodes) await redisCommand(node.port, "CONFIG", "RESETSTAT");
      const { masters } = await roles();
      for (let round = 0; round < 25; round++) {
        await Promise.all(
          users.map(async (user, i) => {
            const response = await user.request(`${(i + round) % 2 === 0 ? a.url : b.url}/me`);
            expect(response.body).toMatchObject({ user: `r${i}` });
          }),
        );
      }
      const calls = await hgetallCalls(nodes);
      const total = calls.reduce((sum, count) => sum + count, 0);
      const onMaster = masters.reduce(
        (sum, master) => sum + (calls[nodes.indexOf(master)] ?? 0),
        0,
      );
      console.log(`HGETALL: ${onMaster} of ${total} on masters (${calls.join(", ")} by node)`);
      expect(total).toBeGreaterThanOrEqual(500);
      expect(onMaster).toBeLessThanOrEqual(total * 0.1);
    });

    test(`20 clients × ${PAIRS} write-then-read pairs across 2 instances, saved through each of ${SAVE_PATHS.join(", ")}, replicas lagging in bursts: no read older than the client's last acknowledged write`, async () => {
      const { lagging } = await roles();
      const clients = Array.from({ length: 20 }, () => new Browser());
      await Promise.all(
        clients.map((client, i) =>
          client.request(`${a.url}/login`, { method: "POST", json: { user: `w${i}` } }),
        ),
      );
      const stale = Object.fromEntries(SAVE_PATHS.map((via) => [via, 0]));
      let errors = 0;
      const load = Promise.all(
        clients.map(async (client, i) => {
          for (let pair = 0; pair < PAIRS; pair++) {
            const [writeTo, readFrom] = pair % 2 === 0 ? [a.url, b.url] : [b.url, a.url];
            // Each client its own sequence of paths, so that all of them meet the lag.
            const via = SAVE_PATHS[(pair + i) % SAVE_PATHS.length] ?? "end";
            const written = await client.request(`${writeTo}/cart/${via}`, {
              method: "POST",
              json: { item: `w${i}-${pair}` },
            });
            if (written.status !== 200) {
              errors++;
              continue;
            }
            const read = await client.request(`${readFrom}/cart`);
            const cart = (read.body as { cart?: string[] }).cart;
            if (read.status !== 200) errors++;
            else if (!cart?.includes(`w${i}-${pair}`)) stale[via] = (stale[via] ?? 0) + 1;
          }
        }),
      );
      await Promise.all([load, lagInBursts(lagging, 150, load)]);
      console.log(
        `read-your-writes: ${JSON.stringify(stale)} stale reads by save path, ${errors} errors ` +
          `in ${20 * PAIRS} pairs`,
      );
      expect({ stale, errors }).toEqual({
        stale: Object.fromEntries(SAVE_PATHS.map((via) => [via, 0])),
        errors: 0,
      });
    });

    test("after logout returns, the old cookie is anonymous on the other instance, 1 000 of 1 000 times, replicas lagging", async () => {
      const { lagging } = await roles();
      let stillIn = 0;
      let checked = 0;
      const load = Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          for (let round = 0; round < 50; round++) {
            const user = new Browser();
            await user.request(`${a.url}/login`, { method: "POST", json: { user: `l${i}` } });
            const thief = new Browser();
            thief.cookie = user.cookie;
            for (const [name, value] of user.cookies) thief.cookies.set(name, value);
            // express-session's destroy() and the logout() helper, in turn.
            const logout = round % 2 === 0 ? "/logout" : "/auth/logout";
            expect((await user.request(`${a.url}${logout}`, { method: "POST" })).status).toBe(200);
            const after = await thief.request(`${b.url}/me`);
            checked++;
            if ((after.body as { user?: unknown }).user !== null) stillIn++;
          }
        }),
      );
      await Promise.all([load, lagInBursts(lagging, 150, load)]);
      console.log(`logout: ${stillIn} of ${checked} old cookies still logged in`);
      expect(checked).toBe(1_000);
      expect(stillIn).toBe(0);
    });
  });
}
