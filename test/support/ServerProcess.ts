import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";

const running = new Set<ChildProcess>();
// If the test worker exits without teardown (a crash), take our servers with it.
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** A server binary we started: signals go only to this pid. */
export class ServerProcess {
  #child: ChildProcess | undefined;
  #exit: Promise<void> = Promise.resolve();
  #paused = false;
  /** Called when the process exits without stop() or kill() having been asked for. */
  onExit: (() => void) | undefined;
  #stopping = false;

  constructor(
    readonly name: string,
    readonly command: string,
    readonly args: string[],
  ) {}

  /** Starts (or restarts) the process. */
  start(): void {
    if (this.running) throw new Error(`${this.name} is already running`);
    const child = spawn(this.command, this.args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    running.add(child);
    this.#child = child;
    this.#paused = false;
    this.#stopping = false;
    this.#exit = once(child, "exit").then(() => {
      running.delete(child);
      if (stderr !== "") this.stderr += stderr;
      if (!this.#stopping) this.onExit?.();
    });
    child.on("error", (error) => (this.stderr += `spawn failed: ${error.message}\n`));
  }

  stderr = "";

  get pid(): number {
    const pid = this.#child?.pid;
    if (pid === undefined) throw new Error(`${this.name} has no pid`);
    return pid;
  }

  get running(): boolean {
    const child = this.#child;
    return child?.exitCode === null && child.signalCode === null;
  }

  /** SIGKILL, as a crash would. Resolves once the process is gone. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.#stopping = true;
    this.#child?.kill("SIGKILL");
    await this.#exit;
  }

  /** SIGSTOP: the process freezes with its sockets open. */
  pause(): void {
    this.#child?.kill("SIGSTOP");
    this.#paused = true;
  }

  /** SIGCONT after pause(). */
  resume(): void {
    this.#child?.kill("SIGCONT");
    this.#paused = false;
  }

  /** SIGTERM, awaited; SIGKILL if it has not exited after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.#stopping = true;
    if (this.#paused) this.resume();
    this.#child?.kill("SIGTERM");
    const timer = setTimeout(() => this.#child?.kill("SIGKILL"), graceMs);
    await this.#exit;
    clearTimeout(timer);
  }
}
