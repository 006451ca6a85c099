import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pollUntil } from "./poll.js";
import { redisCommand, redisInfo } from "./redisCommand.js";
import { RedisServer } from "./RedisServer.js";
import type { SentinelSettings } from "./RedisServer.js";

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

/** Servers started for a test; everything here is torn down by stop(). */
abstract class RedisStack {
  protected constructor(readonly dir: string) {}

  abstract get nodes(): RedisServer[];

  /** Stops every process (awaited) and removes the temp dir. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.process.stop()));
    await rm(this.dir, { recursive: true, force: true });
  }

  /** Runs `start`; if it fails, stops whatever did start and throws with the servers' logs. */
  protected async boot(what: string, start: () => Promise<void>): Promise<void> {
    try {
      await start();
    } catch (error) {
      const logs = await this.logs();
      await this.stop();
      throw new Error(`${what} did not start:\n${logs}`, { cause: error });
    }
  }

  /** The tail of every node's log, for a failing test. */
  async logs(lines = 40): Promise<string> {
    const parts = await Promise.all(
      this.nodes.map(
        async (node) => `--- ${node.name} (port ${node.port})\n${await node.logTail(lines)}`,
      ),
    );
    return parts.join("\n");
  }
}

/** One redis-server: the development setup. */
export class SingleNodeStack extends RedisStack {
  private constructor(
    dir: string,
    readonly server: RedisServer,
  ) {
    super(dir);
  }

  static async start(): Promise<SingleNodeStack> {
    const dir = await mkdtemp(join(tmpdir(), "rhs-single-"));
    const topology = new SingleNodeStack(dir, await RedisServer.server(dir, "redis"));
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
    ...settings
  }: {
    replicas?: number;
    sentinels?: number;
  } & SentinelSettings = {}): Promise<SentinelStack> {
    const dir = await mkdtemp(join(tmpdir(), "rhs-sentinel-"));
    const master = await RedisServer.server(dir, "redis-1", { password });
    const servers = [master];
    for (let i = 0; i < replicas; i++) {
      servers.push(
        await RedisServer.server(dir, `redis-${i + 2}`, { replicaOf: master.port, password }),
      );
    }
    const watchers: RedisServer[] = [];
    for (let i = 0; i < sentinels; i++) {
      watchers.push(
        await RedisServer.sentinel(dir, `sentinel-${i + 1}`, "mymaster", master.port, {
          password,
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

/**
 * A Redis Cluster: `masters` shards, slots spread evenly by redis-cli, each with
 * `replicasPerMaster` replicas; AOF, `cluster-node-timeout 2000`, `cluster-require-full-coverage
 * no`, each node's bus on a free port of its own.
 */
export class ClusterStack extends RedisStack {
  private constructor(
    dir: string,
    readonly servers: RedisServer[],
  ) {
    super(dir);
  }

  /** `password`: requirepass (and masterauth) on every node. */
  static async start({
    masters = 3,
    replicasPerMaster = 0,
    password,
  }: {
    masters?: number;
    replicasPerMaster?: number;
    password?: string;
  } = {}): Promise<ClusterStack> {
    const dir = await mkdtemp(join(tmpdir(), "rhs-cluster-"));
    const servers: RedisServer[] = [];
    for (let i = 0; i < masters * (1 + replicasPerMaster); i++) {
      servers.push(await RedisServer.server(dir, `cluster-${i + 1}`, { cluster: true, password }));
    }
    const topology = new ClusterStack(dir, servers);
    await topology.boot("Redis Cluster", async () => {
      await Promise.all(servers.map((server) => server.start()));
      const addresses = servers.map((server) => `127.0.0.1:${server.port}`);
      await run("redis-cli", [
        "--cluster",
        "create",
        ...addresses,
        "--cluster-replicas",
        String(replicasPerMaster),
        "--cluster-yes",
        ...(password === undefined ? [] : ["-a", password, "--no-auth-warning"]),
      ]);
      await topology.waitHealed(30_000);
    });
    return topology;
  }

  get nodes(): RedisServer[] {
    return this.servers;
  }

  get redisOption(): { cluster: { host: string; port: number }[] } {
    return { cluster: this.servers.map((server) => ({ host: "127.0.0.1", port: server.port })) };
  }

  /** The running nodes that are masters now, as CLUSTER SLOTS names them. */
  async masters(): Promise<RedisServer[]> {
    const ports = new Set((await this.#slots()).map(({ master }) => master));
    return this.servers.filter((server) => ports.has(server.port));
  }

  /** The master serving `slot` now. */
  async masterOf(slot: number): Promise<RedisServer> {
    const range = (await this.#slots()).find(({ from, to }) => from <= slot && slot <= to);
    const master = this.servers.find((server) => server.port === range?.master);
    if (master === undefined) throw new Error(`no master serves slot ${slot}`);
    return master;
  }

  /** The replicas of `master`, as CLUSTER SLOTS lists them. */
  async replicasOf(master: RedisServer): Promise<RedisServer[]> {
    const range = (await this.#slots()).find((candidate) => candidate.master === master.port);
    const ports = new Set(range?.replicas ?? []);
    return this.servers.filter((server) => ports.has(server.port));
  }

  /**
   * Waits until every running, unpaused node says `cluster_state:ok`, they all give the same
   * CLUSTER SLOTS with every slot on a running master, and every other running node is listed
   * there as a replica with its link to its master up.
   */
  async waitHealed(timeoutMs = 30_000): Promise<void> {
    await pollUntil(
      "the cluster to be healed (state ok, one slot map, replicas linked)",
      async () => {
        const live = this.servers.filter(({ process }) => process.running && !process.paused);
        const maps = new Set<string>();
        for (const server of live) {
          const info = String(await redisCommand(server.port, "CLUSTER", "INFO"));
          if (!info.includes("cluster_state:ok")) return false;
          maps.add(JSON.stringify(await slotsOf(server.port)));
        }
        const [map] = maps;
        if (maps.size !== 1 || map === undefined) return false;
        const ranges = JSON.parse(map) as SlotRange[];
        const covered = ranges.reduce((sum, { from, to }) => sum + to - from + 1, 0);
        if (covered !== 16_384) return false;
        // Every running node is in the map: a master, or a replica whose link is up.
        const mapped = new Set<number>();
        for (const { master, replicas } of ranges) {
          mapped.add(master);
          for (const port of replicas) mapped.add(port);
        }
        for (const server of live) {
          if (!mapped.has(server.port)) return false;
          if (ranges.some(({ master }) => master === server.port)) continue;
          const replication = await redisInfo(server.port, "replication");
          if (replication.get("master_link_status") !== "up") return false;
        }
        return ranges.every(({ master }) => live.some((server) => server.port === master));
      },
      { timeoutMs, intervalMs: 100 },
    );
  }

  async #slots(): Promise<SlotRange[]> {
    for (const server of this.servers.filter(({ process }) => process.running && !process.paused)) {
      try {
        return await slotsOf(server.port);
      } catch {
        // a node that does not answer (frozen): ask the next one
      }
    }
    throw new Error("no cluster node answers CLUSTER SLOTS");
  }
}

/** A range of slots, the port of its master and those of its replicas. */
interface SlotRange {
  from: number;
  to: number;
  master: number;
  replicas: number[];
}

/** CLUSTER SLOTS as the node on `port` sees it, sorted by slot. */
async function slotsOf(port: number): Promise<SlotRange[]> {
  const reply = (await redisCommand(port, "CLUSTER", "SLOTS")) as [
    number,
    number,
    [string, number, ...unknown[]],
    ...[string, number, ...unknown[]][],
  ][];
  return reply
    .map(([from, to, [, master], ...replicas]) => ({
      from,
      to,
      master,
      replicas: replicas.map(([, replica]) => replica).sort((a, b) => a - b),
    }))
    .sort((a, b) => a.from - b.from);
}

async function run(command: string, args: string[]): Promise<void> {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0)
    throw new Error(`${command} ${args.join(" ")} exited with ${String(code)}:\n${output}`);
}

function pairs(flat: string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(flat[i] ?? "", flat[i + 1] ?? "");
  return map;
}
