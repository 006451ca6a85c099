import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pollUntil } from "./poll.js";
import { commandOnce } from "./redisCommand.js";
import { ServerProcess } from "./ServerProcess.js";

/**
 * A redis-server or redis-sentinel we configure and start: its config file and log in `dir`, a
 * process signalled only by its pid, started when it answers PING. On loopback (`RedisServer`) or
 * in a network namespace of its own (the partition harness's `NetNode`).
 */
export class ConfiguredServer {
  readonly process: ServerProcess;

  protected constructor(
    readonly name: string,
    /** The address it binds to. */
    readonly address: string,
    /** Where clients reach it (a proxy's port for a proxied partition node). */
    readonly port: number,
    readonly dir: string,
    /** The command and arguments that run it with its config file. */
    launch: (configFile: string) => [string, string[]],
  ) {
    const [command, args] = launch(this.configFile);
    this.process = new ServerProcess(name, command, args);
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

  /** `host:port` as Sentinel and clients name it. */
  get endpoint(): string {
    return `${this.address}:${this.port}`;
  }

  /** Writes the config: `listen` (the port lines), then what every node has, then `lines`. */
  protected async writeConfig(listen: string[], lines: string[]): Promise<void> {
    const common = [
      `bind ${this.address}`,
      "daemonize no",
      `dir ${this.dir}`,
      `logfile ${this.logFile}`,
    ];
    await writeFile(this.configFile, [...listen, ...common, ...lines, ""].join("\n"));
  }

  /** Sends one command to the server, never retrying. */
  protected command(...args: (string | number)[]): Promise<unknown> {
    return commandOnce({ host: this.address, port: this.port, timeoutMs: 1_000 }, args);
  }

  /** Starts (or restarts) the process and waits until it answers PING. */
  async start(): Promise<void> {
    this.process.start();
    await pollUntil(`${this.name} at ${this.endpoint} to answer PING`, async () => {
      if (!this.process.running) {
        throw new Error(`${this.name} exited: ${this.process.stderr}${await this.logTail(20)}`);
      }
      return (await this.command("PING")) === "PONG";
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
    const text = await this.log();
    return text === "" ? "(no log)" : text.split("\n").slice(-lines).join("\n");
  }
}
