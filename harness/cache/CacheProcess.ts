import { fileURLToPath } from "node:url";
import type { CacheOptions, CacheStats } from "../../src/index.js";
import type { BurstResult, WorkloadResult, WorkloadSettings } from "./protocol.js";
import { ServerProcess } from "../ServerProcess.js";

const script = fileURLToPath(new URL("./cacheWorker.ts", import.meta.url));

/**
 * A process with a cache, one instance of a fleet: this library's (cacheWorker.ts), or another
 * script serving the same protocol (workerServer.ts) with its `S` for stats.
 */
export class CacheProcess<S = CacheStats> {
  private constructor(
    readonly instance: string,
    readonly url: string,
    readonly process: ServerProcess,
  ) {}

  /** This library's cache with `options`, its loaders reading the database at `database`. */
  static start(instance: string, options: CacheOptions, database: string): Promise<CacheProcess> {
    return CacheProcess.startScript(instance, script, database, {
      CACHE_OPTIONS: JSON.stringify(options),
    });
  }

  /** `node --import tsx <path>` with CACHE_INSTANCE, CACHE_DATABASE and `env` set. */
  static async startScript<S>(
    instance: string,
    path: string,
    database: string,
    env: Record<string, string> = {},
  ): Promise<CacheProcess<S>> {
    const child = new ServerProcess(
      `cache ${instance}`,
      process.execPath,
      ["--import", "tsx", path],
      { env: { ...env, CACHE_INSTANCE: instance, CACHE_DATABASE: database } },
    );
    const port = await child.startUntil((line) => (JSON.parse(line) as { port: number }).port);
    return new CacheProcess<S>(instance, `http://127.0.0.1:${port}`, child);
  }

  /** `count` concurrent getOrLoad calls of `key`. */
  burst(key: string, count: number): Promise<BurstResult<S>> {
    return this.#post("/burst", { key, count });
  }

  /** The worker's random workload (see workerServer.ts). */
  workload(settings: WorkloadSettings): Promise<WorkloadResult<S>> {
    return this.#post("/workload", settings);
  }

  /** What the cache would serve for each of `keys` now (undefined: nothing). */
  async peek(keys: readonly string[]): Promise<unknown[]> {
    return (await this.#post<{ values: unknown[] }>("/peek", { keys })).values;
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
