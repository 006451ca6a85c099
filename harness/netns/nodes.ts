import { mkdir } from "node:fs/promises";
import { createInterface } from "node:readline";
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ConfiguredServer } from "../ConfiguredServer.js";
import { commandOnce } from "../redisCommand.js";
import type { Network } from "./Network.js";
import { serverBinary } from "../serverKind.js";
import type { ServerKind } from "../serverKind.js";

/** Port every data node listens on inside its namespace; the latency proxy listens on PROXY_PORT. */
export const REDIS_PORT = 6379;
export const PROXY_PORT = 6380;
export const SENTINEL_PORT = 26379;

/** Sends one command over a short-lived connection from the observer; never retries. */
export function ask(
  host: string,
  port: number,
  args: (string | number)[],
  timeoutMs = 1_000,
): Promise<unknown> {
  return commandOnce({ host, port, timeoutMs }, args);
}

/** A data node or Sentinel (Redis or Valkey) in its host's namespace, with config and log in `dir`. */
export class NetNode extends ConfiguredServer {
  constructor(
    name: string,
    readonly host: string,
    address: string,
    port: number,
    dir: string,
    sentinel: boolean,
    network: Network,
    kind: ServerKind,
  ) {
    super(name, address, port, dir, (configFile) => [
      "ip",
      [
        "netns",
        "exec",
        network.namespace(host),
        serverBinary(kind, sentinel ? "sentinel" : "server"),
        configFile,
      ],
    ]);
  }

  /** Writes the config, the node listening on `listenPort` (behind its proxy, if any). */
  async configure(lines: string[], listenPort: number): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await this.writeConfig([`port ${listenPort}`], ["protected-mode no", ...lines]);
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
