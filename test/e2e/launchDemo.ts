import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { PanelSample } from "../../demo/control/server.js";
import type { DemoDescription } from "../../demo/DemoStack.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

export type DemoInfo = DemoDescription & { url: string; control: string };

/** The control panel's /api/state. */
export type PanelState = DemoDescription & {
  url: string;
  users: number;
  database: DemoDescription["database"] & { readDelayMs: number };
};

/** `npm run demo -- --json`, as a user starts it, in its own process group like a terminal's. */
export class LaunchedDemo {
  output = "";

  private constructor(
    private readonly child: ChildProcess,
    readonly info: DemoInfo,
    readonly startupMs: number,
  ) {}

  static async start(args: string[] = []): Promise<LaunchedDemo> {
    const started = performance.now();
    const child = spawn("npm", ["run", "--silent", "demo", "--", "--json", ...args], {
      cwd: root,
      // What the store and middleware log goes to the launcher's stderr, kept for failures.
      env: { ...process.env, DEBUG: "redis-ha-session:store,redis-ha-session:middleware" },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const lines = createInterface({ input: child.stdout });
    const ready = new Promise<DemoInfo>((resolve, reject) => {
      lines.once("line", (line) => {
        try {
          resolve(JSON.parse(line) as DemoInfo);
        } catch (error) {
          reject(new Error(`not a JSON line: ${line}`, { cause: error }));
        }
      });
      child.once("exit", (code) => {
        reject(new Error(`the demo exited with ${String(code)} before it was ready:\n${output}`));
      });
    });
    const timeout = setTimeout(() => child.pid && process.kill(-child.pid, "SIGKILL"), 60_000);
    try {
      const info = await ready;
      const demo = new LaunchedDemo(child, info, performance.now() - started);
      child.stderr.on("data", (chunk: Buffer) => (demo.output += chunk.toString()));
      demo.output = output;
      return demo;
    } finally {
      clearTimeout(timeout);
    }
  }

  /** The library's log lines from every instance: failovers seen, outages, 503s. */
  get libraryLog(): string {
    return this.output
      .split("\n")
      .filter((line) => line.includes("redis-ha-session:"))
      .slice(-60)
      .join("\n");
  }

  /** Every pid the ready line named. */
  get pids(): number[] {
    const { redis, database, instances, loadBalancer } = this.info;
    return [
      database.pid,
      ...(redis.master ? [redis.master.pid] : []),
      ...redis.replicas.map((node) => node.pid),
      ...redis.sentinels.map((node) => node.pid),
      ...instances.map((instance) => instance.pid),
      loadBalancer.pid,
    ].filter((pid): pid is number => pid !== null);
  }

  /** Ctrl-C: SIGINT to the whole process group; resolves when the launcher has exited. */
  async interrupt(): Promise<void> {
    if (this.child.exitCode !== null || this.child.pid === undefined) return;
    const exited = once(this.child, "exit");
    process.kill(-this.child.pid, "SIGINT");
    await exited;
  }

  /** The npm process's pid. */
  get npmPid(): number {
    const { pid } = this.child;
    if (pid === undefined) throw new Error("npm did not start");
    return pid;
  }

  /**
   * `signal` to the npm process alone, as a process supervisor, `timeout` or an IDE's stop button
   * sends it (Ctrl-C in a terminal signals the whole process group instead).
   */
  signalNpm(signal: "SIGINT" | "SIGTERM"): void {
    process.kill(this.npmPid, signal);
  }

  /** A control panel action, as its buttons send it. */
  async control(path: string, body: unknown = {}): Promise<unknown> {
    const response = await fetch(`${this.info.control}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return response.json();
  }

  /** The Redis and Sentinel logs, from the control panel. */
  async redisLogs(): Promise<string> {
    return fetch(`${this.info.control}/api/logs`).then((r) => r.text());
  }

  async state(): Promise<PanelState> {
    return (await fetch(`${this.info.control}/api/state`).then((r) => r.json())) as PanelState;
  }

  /** The panel's history: the per-second samples and the marked events, as its page first gets them. */
  async history(): Promise<{ samples: PanelSample[]; events: { label: string }[] }> {
    const controller = new AbortController();
    const response = await fetch(`${this.info.control}/api/stream`, { signal: controller.signal });
    const reader = response.body?.getReader();
    let text = "";
    try {
      for (;;) {
        const chunk = await reader?.read();
        if (chunk === undefined || chunk.done) break;
        text += new TextDecoder().decode(chunk.value as Uint8Array);
        const match = /event: history\ndata: (.*)\n\n/.exec(text);
        if (match?.[1] !== undefined) {
          return JSON.parse(match[1]) as { samples: PanelSample[]; events: { label: string }[] };
        }
      }
    } finally {
      controller.abort();
    }
    throw new Error("the panel's stream sent no history");
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
