import { fileURLToPath } from "node:url";
import type { CacheOptions } from "../../src/index.js";
import type { BurstResult, WorkloadResult, WorkloadSettings } from "./protocol.js";
import { ServerProcess } from "../ServerProcess.js";

const script = fileURLToPath(new URL("./cacheWorker.ts", import.meta.url));

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
  burst(key: string, count: number): Promise<BurstResult> {
    return this.#post("/burst", { key, count });
  }

  /** The worker's random workload (see cacheWorker.ts). */
  workload(settings: WorkloadSettings): Promise<WorkloadResult> {
    return this.#post("/workload", settings);
  }

  async #post<T>(path: string, body: unknown): Promise<T> {
    const response = await fetch(`${this.url}${path}`, {
      method: "POST",
      body: JSON.stringify(body),
    });
    return (await response.json()) as T;
  }

  async stop(): Promise<void> {
    await this.process.stop();
  }
}
