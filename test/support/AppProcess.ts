import { spawn } from "node:child_process";
import type { ChildProcess, SpawnOptions } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { RedisSessionOptions } from "../../src/index.js";

const script = fileURLToPath(new URL("../fixtures/appProcess.ts", import.meta.url));

/** The test app running in a separate Node.js process, as one of several instances. */
export class AppProcess {
  output = "";

  private constructor(
    readonly instance: string,
    readonly port: number,
    private readonly child: ChildProcess,
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
    {
      host = "127.0.0.1",
      spawner = (command, args, spawnOptions) => spawn(command, args, spawnOptions),
    }: {
      host?: string;
      spawner?: (command: string, args: string[], options: SpawnOptions) => ChildProcess;
    } = {},
  ): Promise<AppProcess> {
    const child = spawner(process.execPath, ["--import", "tsx", script], {
      env: {
        ...process.env,
        ...env,
        APP_OPTIONS: JSON.stringify(options),
        APP_INSTANCE: instance,
        APP_HOST: host,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const { stdout, stderr } = child;
    if (stdout === null || stderr === null) throw new Error("the app's output is not piped");
    stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const lines = createInterface({ input: stdout });
    const exited = once(child, "exit").then(([code]) => {
      throw new Error(`app ${instance} exited with ${String(code)} before listening:\n${output}`);
    });
    const listening = (async () => {
      for await (const line of lines) {
        const { port } = JSON.parse(line) as { port: number };
        return port;
      }
      throw new Error(`app ${instance} closed its output before listening:\n${output}`);
    })();
    const port = await Promise.race([listening, exited]);
    const app = new AppProcess(instance, port, child, host);
    stderr.on("data", (chunk: Buffer) => (app.output += chunk.toString()));
    return app;
  }

  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM, awaited; SIGKILL if it has not exited after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, "exit");
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  }
}
