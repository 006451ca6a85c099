import { AppProcess } from "../support/AppProcess.js";
import { UserLoad } from "../support/load.js";
import { SentinelTopology } from "../support/topologies.js";
import type { RedisSessionOptions } from "../../src/index.js";

/** A Sentinel topology, two app instances on it, and 20 logged-in users ready to click. */
export interface Stack {
  topology: SentinelTopology;
  apps: AppProcess[];
  load: UserLoad;
}

/**
 * Starts a fresh stack, runs `scenario` on it, and always tears it down; when the scenario fails,
 * prints the Redis logs and what the apps wrote to stderr.
 */
export async function withStack(
  appOptions: Partial<RedisSessionOptions>,
  scenario: (stack: Stack) => Promise<void>,
): Promise<void> {
  const topology = await SentinelTopology.start();
  const apps: AppProcess[] = [];
  try {
    const options = { redis: topology.redisOption, ...appOptions };
    apps.push(
      ...(await Promise.all([
        AppProcess.start("app-a", options),
        AppProcess.start("app-b", options),
      ])),
    );
    const load = new UserLoad(apps.map((app) => app.url));
    await load.loginAll();
    await topology.waitForSteadyState();
    await scenario({ topology, apps, load });
  } catch (error) {
    const appLogs = apps.map((app) => `--- ${app.instance}\n${app.output}`).join("\n");
    console.error(`Logs of the failed scenario:\n${await topology.logs()}\n${appLogs}`);
    throw error;
  } finally {
    await Promise.all(apps.map((app) => app.stop()));
    await topology.stop();
  }
}
