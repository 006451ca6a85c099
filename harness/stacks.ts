import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pollUntil } from "./poll.js";
import { RedisStack } from "./RedisStack.js";
import { redisCommand, redisInfo } from "./redisCommand.js";
import { RedisServer } from "./RedisServer.js";
import type { SentinelSettings } from "./RedisServer.js";
import type { ServerKind } from "./serverKind.js";

/** A `+switch-master` in a Sentinel's log. */
export interface MasterSwitchEvent {
  /** When the Sentinel logged it, ms since the epoch (its clock is this machine's). */
  at: number;
  /** The new master, `host:port`. */
  to: string;
  sentinel: string;
}

// `1234:X 01 Dec 2026 21:30:52.123 # +switch-master mymaster 127.0.0.1 6379 127.0.0.1 6380`
const SWITCH_LINE =
  /^\d+:X (\d{2}) (\w{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2})\.(\d{3}) # \+switch-master \S+ \S+ \d+ (\S+) (\d+)/;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** The `+switch-master` lines in a Sentinel's log, timed by its clock (this machine's). */
export function switchesIn(log: string, sentinel: string): MasterSwitchEvent[] {
  const events: MasterSwitchEvent[] = [];
  for (const line of log.split("\n")) {
    const match = SWITCH_LINE.exec(line);
    if (match === null) continue;
    const [, day, month, year, hour, minute, second, ms, toHost, toPort] = match;
    const at = new Date(
      Number(year),
      MONTHS.indexOf(month ?? ""),
      Number(day),
      Number(hour),
      Number(minute),
      Number(second),
      Number(ms),
    ).getTime();
    events.push({ at, to: `${toHost ?? ""}:${toPort ?? ""}`, sentinel });
  }
  return events;
}

/** One redis-server: the development setup. */
export class SingleNodeStack extends RedisStack {
  private constructor(
    dir: string,
    readonly server: RedisServer,
  ) {
    super(dir);
  }

  static async start({ kind }: { kind?: ServerKind } = {}): Promise<SingleNodeStack> {
    const dir = await mkdtemp(join(tmpdir(), "rhs-single-"));
    const topology = new SingleNodeStack(dir, await RedisServer.server(dir, "redis", { kind }));
    await topology.boot("Redis", () => topology.server.start());
    return topology;
  }

  get nodes(): RedisServer[] {
    return [this.server];
  }

  get url(): string {
    return `redis://127.0.0.1:${this.server.port}`;
  }
}

/** A master, replicas and Sentinels watching them, as in production. */
export class SentinelStack extends RedisStack {
  readonly masterName = "mymaster";

  private constructor(
    dir: string,
    readonly servers: RedisServer[],
    readonly sentinels: RedisServer[],
  ) {
    super(dir);
  }

  /**
   * Starts a master, `replicas` replicas and `sentinels` Sentinels and waits for steady state.
   * `password` protects the data nodes (`requirepass`, `masterauth`, `sentinel auth-pass`),
   * `sentinelPassword` the Sentinels.
   */
  static async start({
    replicas = 2,
    sentinels = 3,
    password,
    kind,
    preload,
    serverConfig: extra = [],
    ...settings
  }: {
    replicas?: number;
    sentinels?: number;
    /** Preloaded into every data node (LD_PRELOAD): harness/crash's volatile AOF, say. */
    preload?: string | undefined;
    /** More configuration lines for every data node (`appendfsync always`, say). */
    serverConfig?: string[];
  } & SentinelSettings = {}): Promise<SentinelStack> {
    const dir = await mkdtemp(join(tmpdir(), "rhs-sentinel-"));
    const master = await RedisServer.server(dir, "redis-1", { password, kind, preload, extra });
    const servers = [master];
    for (let i = 0; i < replicas; i++) {
      servers.push(
        await RedisServer.server(dir, `redis-${i + 2}`, {
          replicaOf: master.port,
          password,
          kind,
          preload,
          extra,
        }),
      );
    }
    const watchers: RedisServer[] = [];
    for (let i = 0; i < sentinels; i++) {
      watchers.push(
        await RedisServer.sentinel(dir, `sentinel-${i + 1}`, "mymaster", master.port, {
          password,
          kind,
          ...settings,
        }),
      );
    }
    const topology = new SentinelStack(dir, servers, watchers);
    await topology.boot("Sentinel topology", async () => {
      await Promise.all(servers.map((server) => server.start()));
      await Promise.all(watchers.map((sentinel) => sentinel.start()));
      await topology.waitForSteadyState();
    });
    return topology;
  }

  get nodes(): RedisServer[] {
    return [...this.servers, ...this.sentinels];
  }

  /** What to pass as `redis` to the library. */
  get redisOption(): { sentinels: { host: string; port: number }[]; name: string } {
    return {
      sentinels: this.sentinels.map((sentinel) => ({ host: "127.0.0.1", port: sentinel.port })),
      name: this.masterName,
    };
  }

  /**
   * Every `+switch-master` the Sentinels logged, earliest first, timed by Sentinel's own clock
   * (its log lines carry milliseconds). Each Sentinel logs each switch once.
   */
  async switches(): Promise<MasterSwitchEvent[]> {
    const events: MasterSwitchEvent[] = [];
    for (const sentinel of this.sentinels) {
      events.push(...switchesIn(await sentinel.log(), sentinel.name));
    }
    return events.sort((a, b) => a.at - b.at);
  }

  /** The data node Sentinel currently reports as master. */
  async currentMaster(): Promise<RedisServer> {
    for (const sentinel of this.sentinels.filter((node) => node.process.running)) {
      try {
        const reply = await redisCommand(
          sentinel.port,
          "SENTINEL",
          "get-master-addr-by-name",
          this.masterName,
        );
        const port = Number((reply as string[])[1]);
        const master = this.servers.find((server) => server.port === port);
        if (master) return master;
      } catch {
        // try the next Sentinel
      }
    }
    throw new Error("no Sentinel reports a master");
  }

  /**
   * Waits until every running Sentinel agrees on one master that has every running replica in
   * sync, and every running Sentinel knows the others and the replicas.
   */
  async waitForSteadyState(timeoutMs = 30_000): Promise<RedisServer> {
    return pollUntil(
      "Sentinel steady state",
      async () => {
        const master = await this.currentMaster();
        const replicas = this.servers.filter((s) => s !== master && s.process.running);
        const info = await redisInfo(master.port, "replication");
        if (info.get("role") !== "master") return false;
        for (const replica of replicas) {
          const replicaInfo = await redisInfo(replica.port, "replication");
          if (replicaInfo.get("master_port") !== String(master.port)) return false;
          if (replicaInfo.get("master_link_status") !== "up") return false;
        }
        const sentinels = this.sentinels.filter((s) => s.process.running);
        for (const sentinel of sentinels) {
          const reply = await redisCommand(sentinel.port, "SENTINEL", "master", this.masterName);
          const fields = pairs(reply as string[]);
          if (fields.get("port") !== String(master.port)) return false;
          if (fields.get("flags") !== "master") return false;
          if (fields.get("num-other-sentinels") !== String(sentinels.length - 1)) return false;
          if (Number(fields.get("num-slaves")) < replicas.length) return false;
        }
        return master;
      },
      { timeoutMs, intervalMs: 100 },
    );
  }
}

function pairs(flat: string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(flat[i] ?? "", flat[i + 1] ?? "");
  return map;
}
