import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pollUntil } from "./poll.js";
import { freePort } from "./ports.js";
import { redisCommand } from "./redisCommand.js";
import { ServerProcess } from "./ServerProcess.js";

/** A redis-server or redis-sentinel on 127.0.0.1, with its config, data and log in `dir`. */
export class RedisNode {
  readonly process: ServerProcess;

  private constructor(
    readonly name: string,
    readonly port: number,
    readonly dir: string,
    sentinel: boolean,
  ) {
    const binary = sentinel ? "redis-sentinel" : "redis-server";
    this.process = new ServerProcess(name, binary, [this.configFile]);
  }

  get configFile(): string {
    return join(this.dir, `${this.name}.conf`);
  }

  get logFile(): string {
    return join(this.dir, `${this.name}.log`);
  }

  get pid(): number {
    return this.process.pid;
  }

  /**
   * A data node with AOF persistence; `replicaOf` makes it a replica of that port, `cluster` a
   * Redis Cluster node.
   */
  static async server(
    baseDir: string,
    name: string,
    { replicaOf, cluster = false }: { replicaOf?: number; cluster?: boolean } = {},
  ): Promise<RedisNode> {
    const node = new RedisNode(name, await freePort(), await subdir(baseDir, name), false);
    const lines = ["appendonly yes", 'save ""', "repl-diskless-sync-delay 0"];
    if (replicaOf !== undefined) lines.push(`replicaof 127.0.0.1 ${replicaOf}`);
    if (cluster) lines.push("cluster-enabled yes", "cluster-node-timeout 2000");
    await node.writeConfig(lines);
    return node;
  }

  /** A Sentinel watching `masterName` at `masterPort`: quorum 2, down after 1000 ms. */
  static async sentinel(
    baseDir: string,
    name: string,
    masterName: string,
    masterPort: number,
  ): Promise<RedisNode> {
    const node = new RedisNode(name, await freePort(), await subdir(baseDir, name), true);
    await node.writeConfig([
      `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} 2`,
      `sentinel down-after-milliseconds ${masterName} 1000`,
      `sentinel failover-timeout ${masterName} 10000`,
      `sentinel parallel-syncs ${masterName} 1`,
    ]);
    return node;
  }

  private async writeConfig(lines: string[]): Promise<void> {
    const common = [
      `port ${this.port}`,
      "bind 127.0.0.1",
      "daemonize no",
      `dir ${this.dir}`,
      `logfile ${this.logFile}`,
    ];
    await writeFile(this.configFile, [...common, ...lines, ""].join("\n"));
  }

  /** Starts the process and waits until it answers PING. */
  async start(): Promise<void> {
    this.process.start();
    await pollUntil(`${this.name} on port ${this.port} to answer PING`, async () => {
      if (!this.process.running) {
        throw new Error(`${this.name} exited: ${this.process.stderr}${await this.logTail(20)}`);
      }
      return (await redisCommand(this.port, "PING")) === "PONG";
    });
  }

  /** The last `lines` lines of the node's log. */
  async logTail(lines = 60): Promise<string> {
    try {
      const text = await readFile(this.logFile, "utf8");
      return text.split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  }
}

async function subdir(baseDir: string, name: string): Promise<string> {
  const dir = join(baseDir, name);
  await mkdir(dir, { recursive: true });
  return dir;
}
