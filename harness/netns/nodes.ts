import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { ServerProcess } from "../../test/support/ServerProcess.js";
import { pollUntil } from "../../test/support/poll.js";
import type { Network } from "./Network.js";

/** Port every data node listens on inside its namespace; the latency proxy listens on PROXY_PORT. */
export const REDIS_PORT = 6379;
export const PROXY_PORT = 6380;
export const SENTINEL_PORT = 26379;

/** Sends one command over a short-lived connection from the observer; never retries. */
export async function ask(
  host: string,
  port: number,
  args: (string | number)[],
  timeoutMs = 1_000,
): Promise<unknown> {
  const client = new Redis({
    host,
    port,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
  });
  client.on("error", () => undefined);
  try {
    await client.connect();
    const [command, ...rest] = args;
    return await client.call(String(command), ...rest);
  } finally {
    client.disconnect();
  }
}

/** A redis-server or redis-sentinel in its host's namespace, with config and log in `dir`. */
export class NetNode {
  readonly process: ServerProcess;

  constructor(
    readonly name: string,
    readonly host: string,
    readonly address: string,
    /** Where clients reach it: the proxy's port for a proxied data node. */
    readonly port: number,
    readonly dir: string,
    readonly sentinel: boolean,
    network: Network,
  ) {
    const binary = sentinel ? "redis-sentinel" : "redis-server";
    this.process = new ServerProcess(name, "ip", [
      "netns",
      "exec",
      network.namespace(host),
      binary,
      this.configFile,
    ]);
  }

  get configFile(): string {
    return join(this.dir, `${this.name}.conf`);
  }

  get logFile(): string {
    return join(this.dir, `${this.name}.log`);
  }

  /** `host:port` as Sentinel and clients name it. */
  get endpoint(): string {
    return `${this.address}:${this.port}`;
  }

  async configure(lines: string[], listenPort: number): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const common = [
      `port ${listenPort}`,
      `bind ${this.address}`,
      "protected-mode no",
      "daemonize no",
      `dir ${this.dir}`,
      `logfile ${this.logFile}`,
    ];
    await writeFile(this.configFile, [...common, ...lines, ""].join("\n"));
  }

  async start(): Promise<void> {
    this.process.start();
    await pollUntil(`${this.name} at ${this.endpoint} to answer PING`, async () => {
      if (!this.process.running) throw new Error(`${this.name} exited: ${this.process.stderr}`);
      return (await ask(this.address, this.port, ["PING"])) === "PONG";
    });
  }

  async log(): Promise<string> {
    try {
      return await readFile(this.logFile, "utf8");
    } catch {
      return "";
    }
  }
}

const proxyScript = fileURLToPath(new URL("./tcpProxy.ts", import.meta.url));

/** The delaying TCP proxy in front of one data node (`PROXY_PORT` → `REDIS_PORT`). */
export class LatencyProxy {
  private constructor(private readonly child: ChildProcess) {}

  static async start(network: Network, host: string): Promise<LatencyProxy> {
    const address = network.address(host);
    const child = network.spawn(
      host,
      process.execPath,
      ["--import", "tsx", proxyScript, `${address}:${PROXY_PORT}`, `${address}:${REDIS_PORT}`],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    const stdout = child.stdout;
    if (stdout === null) throw new Error("the proxy's output is not piped");
    for await (const line of createInterface({ input: stdout })) {
      if (line === "ready") break;
    }
    return new LatencyProxy(child);
  }

  /** Delays both directions of connections from `sources` by `delayMs`. */
  delay(delayMs: number, sources: string[]): void {
    this.child.stdin?.write(`${JSON.stringify({ delayMs, sources })}\n`);
  }

  stop(): void {
    this.child.stdin?.end();
    this.child.kill("SIGTERM");
  }
}
