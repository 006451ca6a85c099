import { spawn } from "node:child_process";
import type { ChildProcess, SpawnOptions } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";

const running = new Set<ChildProcess>();
// If the process that started ours exits without stopping them (a crash), take them with it.
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** Starts a process: `spawn` itself, or one inside a network namespace, say. */
export type Spawner = (command: string, args: string[], options: SpawnOptions) => ChildProcess;

export interface ServerProcessOptions {
  /** Added to this process's environment. */
  env?: Record<string, string>;
  spawner?: Spawner;
  /** "pipe" keeps what the process writes to stderr in `stderr`; "inherit" passes it through. */
  stderr?: "pipe" | "inherit";
  /** What stop() sends first: SIGTERM unless the server shuts down fast on another (PostgreSQL: SIGINT). */
  stopSignal?: NodeJS.Signals;
}

/**
 * A process we started — a Redis server, HAProxy, an app instance: signals go only to its pid.
 * What it writes to stderr is kept in `stderr` (unless inherited).
 */
export class ServerProcess {
  #child: ChildProcess | undefined;
  #exit: Promise<void> = Promise.resolve();
  #paused = false;
  #stopping = false;
  /** Called when the process exits without stop() or kill() having been asked for. */
  onExit: ((code: number | null) => void) | undefined;
  stderr = "";

  constructor(
    readonly name: string,
    readonly command: string,
    readonly args: string[],
    private readonly options: ServerProcessOptions = {},
  ) {}

  /** Starts (or restarts) the process. */
  start(): void {
    this.#spawn("ignore");
  }

  /**
   * Starts the process and resolves with what `ready` makes of the first stdout line it accepts
   * (returns something other than undefined for); rejects, with its stderr, if it exits first.
   */
  async startUntil<T>(ready: (line: string) => T | undefined): Promise<T> {
    const child = this.#spawn("pipe");
    const { stdout } = child;
    if (stdout === null) throw new Error(`${this.name}: stdout is not piped`);
    const lines = createInterface({ input: stdout });
    const exited = this.#exit.then(() => {
      throw new Error(
        `${this.name} exited with ${String(child.exitCode ?? child.signalCode)} before it was ready:\n${this.stderr}`,
      );
    });
    exited.catch(() => undefined); // once ready, a later exit is onExit's to report
    const accepted = (async () => {
      for await (const line of lines) {
        const value = ready(line);
        if (value !== undefined) return value;
      }
      await this.#exit;
      throw new Error(`${this.name} closed its output before it was ready:\n${this.stderr}`);
    })();
    try {
      return await Promise.race([accepted, exited]);
    } finally {
      // What it prints later is not read; keep the pipe drained so it never blocks.
      stdout.resume();
    }
  }

  #spawn(stdout: "ignore" | "pipe"): ChildProcess {
    if (this.running) throw new Error(`${this.name} is already running`);
    const { env, spawner = spawn, stderr = "pipe" } = this.options;
    const child = spawner(this.command, this.args, {
      env: { ...process.env, ...env },
      stdio: ["ignore", stdout, stderr],
    });
    child.stderr?.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
    running.add(child);
    this.#child = child;
    this.#paused = false;
    this.#stopping = false;
    this.#exit = once(child, "exit").then(() => {
      running.delete(child);
      if (!this.#stopping) this.onExit?.(child.exitCode);
    });
    child.on("error", (error) => (this.stderr += `spawn failed: ${error.message}\n`));
    return child;
  }

  get pid(): number {
    const pid = this.#child?.pid;
    if (pid === undefined) throw new Error(`${this.name} has no pid`);
    return pid;
  }

  get running(): boolean {
    const child = this.#child;
    return child?.exitCode === null && child.signalCode === null;
  }

  /** Frozen by pause() and not resumed since. */
  get paused(): boolean {
    return this.#paused;
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

  /** SIGTERM (or the `stopSignal`), awaited; SIGKILL if it has not exited after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.#stopping = true;
    if (this.#paused) this.resume();
    this.#child?.kill(this.options.stopSignal ?? "SIGTERM");
    const timer = setTimeout(() => this.#child?.kill("SIGKILL"), graceMs);
    await this.#exit;
    clearTimeout(timer);
  }
}
