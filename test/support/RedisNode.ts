import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pollUntil } from "./poll.js";
import { freePort } from "./ports.js";
import { redisCommand, serverAccess } from "./redisCommand.js";
import { ServerProcess } from "./ServerProcess.js";

/** What a test may set in a Sentinel's configuration. */
export interface SentinelSettings {
  password?: string | undefined;
  sentinelPassword?: string | undefined;
  /** `down-after-milliseconds`. */
  downAfterMs?: number | undefined;
  /** `failover-timeout`. */
  failoverTimeoutMs?: number | undefined;
}

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
    {
      replicaOf,
      cluster = false,
      password,
      extra = [],
    }: { replicaOf?: number; cluster?: boolean; password?: string; extra?: string[] } = {},
  ): Promise<RedisNode> {
    const node = new RedisNode(name, await freePort(), await subdir(baseDir, name), false);
    const lines = ["appendonly yes", 'save ""', "repl-diskless-sync-delay 0", ...extra];
    if (replicaOf !== undefined) lines.push(`replicaof 127.0.0.1 ${replicaOf}`);
    if (cluster) lines.push("cluster-enabled yes", "cluster-node-timeout 2000");
    if (password !== undefined) {
      lines.push(`requirepass ${password}`, `masterauth ${password}`);
      serverAccess.set(node.port, { password });
    }
    await node.writeConfig(lines);
    return node;
  }

  /**
   * A data node that speaks only TLS, with the certificate files in `tls` (clients are not asked
   * for certificates).
   */
  static async tlsServer(
    baseDir: string,
    name: string,
    tls: { cert: string; key: string; ca: string; caPem: string },
  ): Promise<RedisNode> {
    const node = new RedisNode(name, await freePort(), await subdir(baseDir, name), false);
    await node.writeConfig(
      [
        'save ""',
        `tls-cert-file ${tls.cert}`,
        `tls-key-file ${tls.key}`,
        `tls-ca-cert-file ${tls.ca}`,
        "tls-auth-clients no",
      ],
      { tlsOnly: true },
    );
    serverAccess.set(node.port, { tls: { ca: tls.caPem } });
    return node;
  }

  /**
   * A Sentinel watching `masterName` at `masterPort`: quorum 2, down after 2000 ms and
   * failover-timeout 10 s unless given.
   */
  static async sentinel(
    baseDir: string,
    name: string,
    masterName: string,
    masterPort: number,
    {
      password,
      sentinelPassword,
      downAfterMs = 2_000,
      failoverTimeoutMs = 10_000,
    }: SentinelSettings = {},
  ): Promise<RedisNode> {
    const node = new RedisNode(name, await freePort(), await subdir(baseDir, name), true);
    const lines = [
      `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} 2`,
      `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
      `sentinel failover-timeout ${masterName} ${failoverTimeoutMs}`,
      `sentinel parallel-syncs ${masterName} 1`,
    ];
    if (password !== undefined) lines.push(`sentinel auth-pass ${masterName} ${password}`);
    if (sentinelPassword !== undefined) {
      lines.push(`requirepass ${sentinelPassword}`, `sentinel sentinel-pass ${sentinelPassword}`);
      serverAccess.set(node.port, { password: sentinelPassword });
    }
    await node.writeConfig(lines);
    return node;
  }

  private async writeConfig(lines: string[], { tlsOnly = false } = {}): Promise<void> {
    const common = [
      ...(tlsOnly ? ["port 0", `tls-port ${this.port}`] : [`port ${this.port}`]),
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

  /** The whole log, or "" when there is none yet. */
  async log(): Promise<string> {
    try {
      return await readFile(this.logFile, "utf8");
    } catch {
      return "";
    }
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
