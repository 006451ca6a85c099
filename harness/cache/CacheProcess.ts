import { fileURLToPath } from "node:url";
import type { CacheOptions, CacheStats } from "../../src/index.js";
import { ServerProcess } from "../ServerProcess.js";

const script = fileURLToPath(new URL("./cacheWorker.ts", import.meta.url));

/** What one burst of concurrent getOrLoad calls in a cache process gave. */
export interface BurstResult {
  results: { value?: unknown; error?: string; ms: number }[];
  stats: CacheStats;
}

/** What a worker's random workload gave. */
export interface WorkloadResult {
  failed: { getOrLoad: number; writeThrough: number; invalidate: number };
  errors: string[];
  reads: number;
  readP99Ms: number;
  readMaxMs: number;
  /** getOrLoad calls not settled when the workload ended. */
  pending: number;
  stats: CacheStats;
}

/** A process with a cache (see cacheWorker.ts), one instance of a fleet. */
export class CacheProcess {
  private constructor(
    readonly instance: string,
    readonly url: string,
    readonly process: ServerProcess,
  ) {}

  static async start(instance: string, options: CacheOptions, database: string) {
    const child = new ServerProcess(
      `cache ${instance}`,
      process.execPath,
      ["--import", "tsx", script],
      {
        env: {
          CACHE_OPTIONS: JSON.stringify(options),
          CACHE_INSTANCE: instance,
          CACHE_DATABASE: database,
        },
      },
    );
    const port = await child.startUntil((line) => (JSON.parse(line) as { port: number }).port);
    return new CacheProcess(instance, `http://127.0.0.1:${port}`, child);
  }

  /** `count` concurrent getOrLoad calls of `key`. */
  async burst(key: string, count: number): Promise<BurstResult> {
    const response = await fetch(`${this.url}/burst`, {
      method: "POST",
      body: JSON.stringify({ key, count }),
    });
    return (await response.json()) as BurstResult;
  }

  /** The worker's random workload (see cacheWorker.ts). */
  async workload(settings: {
    ops?: number;
    durationMs?: number;
    keys: number;
    concurrency: number;
    pauseMs: number;
    reads?: number;
  }): Promise<WorkloadResult> {
    const response = await fetch(`${this.url}/workload`, {
      method: "POST",
      body: JSON.stringify(settings),
    });
    return (await response.json()) as WorkloadResult;
  }

  async stop(): Promise<void> {
    await this.process.stop();
  }
}
