import { afterAll, beforeAll, beforeEach } from "vitest";
import { ClusterTopology, SentinelTopology, SingleNodeTopology } from "./topologies.js";

interface Stoppable {
  stop(): Promise<void>;
  logs(): Promise<string>;
}

/**
 * Starts a topology before the file's tests and stops it (awaited) after them, even when they
 * fail; a failing test prints the servers' logs. Read `.current` inside tests and hooks.
 */
function useTopology<T extends Stoppable>(start: () => Promise<T>): { readonly current: T } {
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

export function useSingleNode(): { readonly current: SingleNodeTopology } {
  return useTopology(() => SingleNodeTopology.start());
}

export function useSentinel(options?: Parameters<typeof SentinelTopology.start>[0]): {
  readonly current: SentinelTopology;
} {
  return useTopology(() => SentinelTopology.start(options));
}

export function useCluster(): { readonly current: ClusterTopology } {
  return useTopology(() => ClusterTopology.start());
}
