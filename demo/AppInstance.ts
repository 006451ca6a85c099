import { fileURLToPath } from "node:url";
import { ServerProcess } from "../harness/ServerProcess.js";

const server = fileURLToPath(new URL("./server.ts", import.meta.url));

/** One demo app process on a fixed port, so HAProxy finds it again after a restart. */
export class AppInstance {
  readonly #process: ServerProcess;

  constructor(
    readonly id: string,
    readonly port: number,
    env: Record<string, string>,
    onUnexpectedExit: (instance: AppInstance, code: number | null) => void,
  ) {
    this.#process = new ServerProcess(id, process.execPath, ["--import", "tsx", server], {
      env: { ...env, DEMO_INSTANCE: id, PORT: String(port) },
      stderr: "inherit",
    });
    this.#process.onExit = (code) => onUnexpectedExit(this, code);
  }

  get pid(): number | undefined {
    return this.running ? this.#process.pid : undefined;
  }

  get running(): boolean {
    return this.#process.running;
  }

  /** Starts the process and resolves once it listens. */
  async start(): Promise<void> {
    if (this.running) return;
    await this.#process.startUntil((line) => (line.startsWith('{"listening"') ? true : undefined));
  }

  /** SIGKILL: the instance dies as in a crash. */
  async kill(): Promise<void> {
    await this.#process.kill();
  }

  /** SIGTERM, awaited. */
  async stop(): Promise<void> {
    await this.#process.stop();
  }
}
