import { fileURLToPath } from "node:url";
import type { RedisSessionOptions } from "../src/index.js";
import { ServerProcess } from "./ServerProcess.js";
import type { Spawner } from "./ServerProcess.js";

const script = fileURLToPath(new URL("./app/appProcess.ts", import.meta.url));

/** The test app running in a separate Node.js process, as one of several instances. */
export class AppProcess {
  private constructor(
    readonly instance: string,
    readonly port: number,
    private readonly process: ServerProcess,
    readonly host: string,
  ) {}

  /**
   * `env` adds to the environment the app runs with (LD_PRELOAD, …); `host` is the address it
   * listens on, and `spawner` starts the process (inside a network namespace, say).
   */
  static async start(
    instance: string,
    options: Partial<RedisSessionOptions> & Pick<RedisSessionOptions, "redis">,
    env: Record<string, string> = {},
    { host = "127.0.0.1", spawner }: { host?: string; spawner?: Spawner } = {},
  ): Promise<AppProcess> {
    const child = new ServerProcess(
      `app ${instance}`,
      process.execPath,
      ["--import", "tsx", script],
      {
        env: {
          ...env,
          APP_OPTIONS: JSON.stringify(options),
          APP_INSTANCE: instance,
          APP_HOST: host,
        },
        ...(spawner === undefined ? {} : { spawner }),
      },
    );
    const port = await child.startUntil((line) => (JSON.parse(line) as { port: number }).port);
    return new AppProcess(instance, port, child, host);
  }

  /** What the app wrote to stderr (the library's debug log among it). */
  get output(): string {
    return this.process.stderr;
  }

  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  get running(): boolean {
    return this.process.running;
  }

  /** SIGTERM, awaited; SIGKILL if it has not exited after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    await this.process.stop(graceMs);
  }
}
