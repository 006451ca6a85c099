import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const server = fileURLToPath(new URL("./server.ts", import.meta.url));

/** One demo app process on a fixed port, so HAProxy finds it again after a restart. */
export class AppInstance {
  #child: ChildProcess | undefined;
  /** Set while a stop or kill we asked for is under way, so the exit is not reported. */
  #expectedExit = false;

  constructor(
    readonly id: string,
    readonly port: number,
    private readonly env: Record<string, string>,
    private readonly onUnexpectedExit: (instance: AppInstance, code: number | null) => void,
  ) {}

  get pid(): number | undefined {
    return this.running ? this.#child?.pid : undefined;
  }

  get running(): boolean {
    const child = this.#child;
    return child?.exitCode === null && child.signalCode === null;
  }

  /** Starts the process and resolves once it listens. */
  async start(): Promise<void> {
    if (this.running) return;
    const child = spawn(process.execPath, ["--import", "tsx", server], {
      env: { ...process.env, ...this.env, DEMO_INSTANCE: this.id, PORT: String(this.port) },
      stdio: ["ignore", "pipe", "inherit"],
    });
    this.#child = child;
    this.#expectedExit = false;
    child.on("exit", (code) => {
      if (!this.#expectedExit) this.onUnexpectedExit(this, code);
    });
    const lines = createInterface({ input: child.stdout });
    const listening = new Promise<void>((resolve, reject) => {
      lines.on("line", (line) => {
        if (line.startsWith('{"listening"')) resolve();
      });
      child.once("exit", (code) => {
        reject(new Error(`${this.id} exited with ${String(code)} before listening`));
      });
    });
    await listening;
  }

  /** SIGKILL: the instance dies as in a crash. */
  async kill(): Promise<void> {
    await this.#end("SIGKILL");
  }

  /** SIGTERM, awaited. */
  async stop(): Promise<void> {
    await this.#end("SIGTERM");
  }

  async #end(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (child === undefined || !this.running) return;
    this.#expectedExit = true;
    const exited = once(child, "exit");
    child.kill(signal);
    await exited;
  }
}
