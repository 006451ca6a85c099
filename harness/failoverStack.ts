import { AppProcess } from "./AppProcess.js";
import { UserLoad } from "./UserLoad.js";
import { SentinelStack } from "./stacks.js";
import type { RedisSessionOptions } from "../src/index.js";

/** A Sentinel topology, two app instances on it, and 20 logged-in users ready to click. */
export interface Stack {
  topology: SentinelStack;
  apps: AppProcess[];
  load: UserLoad;
}

/**
 * Starts a fresh stack (`instances` app processes, 2 unless given, on a topology with
 * `sentinel` settings), runs `scenario` on it, and always tears it down; when the scenario fails,
 * prints the Redis logs and what the apps wrote to stderr.
 */
export async function withStack<T>(
  appOptions: Partial<RedisSessionOptions>,
  scenario: (stack: Stack) => Promise<T>,
  {
    sentinel = {},
    instances = 2,
  }: { sentinel?: Parameters<typeof SentinelStack.start>[0]; instances?: number } = {},
): Promise<T> {
  const topology = await SentinelStack.start(sentinel);
  const apps: AppProcess[] = [];
  try {
    const options = { redis: topology.redisOption, ...appOptions };
    apps.push(
      ...(await Promise.all(
        Array.from({ length: instances }, (_, i) =>
          AppProcess.start(`app-${String.fromCharCode(97 + i)}`, options),
        ),
      )),
    );
    const load = new UserLoad(apps.map((app) => app.url));
    await load.loginAll();
    await topology.waitForSteadyState();
    return await scenario({ topology, apps, load });
  } catch (error) {
    const appLogs = apps.map((app) => `--- ${app.instance}\n${app.output}`).join("\n");
    console.error(`Logs of the failed scenario:\n${await topology.logs()}\n${appLogs}`);
    throw error;
  } finally {
    await Promise.all(apps.map((app) => app.stop()));
    await topology.stop();
  }
}
