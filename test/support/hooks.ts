import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach } from "vitest";
import { AppProcess } from "../../harness/AppProcess.js";
import { ClusterStack } from "../../harness/ClusterStack.js";
import { SentinelStack, SingleNodeStack } from "../../harness/stacks.js";

interface Stoppable {
  stop(): Promise<void>;
  logs(): Promise<string>;
}

/**
 * Starts a topology before the file's tests and stops it (awaited) after them, even when they
 * fail; a failing test prints the servers' logs. Read `.current` inside tests and hooks.
 */
function useStack<T extends Stoppable>(start: () => Promise<T>): { readonly current: T } {
  let topology: T | undefined;
  beforeAll(async () => {
    topology = await start();
  });
  beforeEach(({ onTestFailed }) => {
    onTestFailed(async () => {
      if (topology) console.error(`Redis logs of the failed test:\n${await topology.logs()}`);
    });
  });
  afterAll(async () => {
    await topology?.stop();
  });
  return {
    get current(): T {
      if (topology === undefined) throw new Error("topology not started (used outside a test?)");
      return topology;
    },
  };
}

export function useSingleNode(options?: Parameters<typeof SingleNodeStack.start>[0]): {
  readonly current: SingleNodeStack;
} {
  return useStack(() => SingleNodeStack.start(options));
}

export function useSentinel(options?: Parameters<typeof SentinelStack.start>[0]): {
  readonly current: SentinelStack;
} {
  return useStack(() => SentinelStack.start(options));
}

export function useCluster(options?: Parameters<typeof ClusterStack.start>[0]): {
  readonly current: ClusterStack;
} {
  return useStack(() => ClusterStack.start(options));
}

/**
 * Two instances of the test app in their own processes on the file's topology, and a connection
 * for looking at Redis (to the master of a Sentinel topology; a Cluster client on a Cluster);
 * handed to `use` once started, stopped after the file's tests.
 */
export function useAppProcesses(
  redis: { readonly current: SentinelStack | ClusterStack },
  use: (started: { apps: [AppProcess, AppProcess]; master: Redis | Cluster }) => void,
): void {
  let apps: AppProcess[] = [];
  let master: Redis | Cluster | undefined;
  beforeAll(async () => {
    const stack = redis.current;
    const options = { redis: stack.redisOption };
    const started = await Promise.all([
      AppProcess.start("app-a", options),
      AppProcess.start("app-b", options),
    ]);
    apps = started;
    master =
      stack instanceof ClusterStack
        ? new Cluster(stack.redisOption.cluster)
        : new Redis((await stack.currentMaster()).port, "127.0.0.1");
    use({ apps: started, master });
  });
  afterAll(async () => {
    await master?.quit();
    await Promise.all(apps.map((app) => app.stop()));
  });
}
