import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pollUntil } from "./poll.js";
import { redisCommand, redisInfo } from "./redisCommand.js";
import { RedisServer } from "./RedisServer.js";
import { RedisStack } from "./RedisStack.js";
import { defaultServerKind, serverBinary } from "./serverKind.js";
import type { ServerKind } from "./serverKind.js";

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

  /** `password`: requirepass (and masterauth) on every node; `kind`: Redis or Valkey. */
  static async start({
    masters = 3,
    replicasPerMaster = 0,
    password,
    kind = defaultServerKind(),
  }: {
    masters?: number;
    replicasPerMaster?: number;
    password?: string;
    kind?: ServerKind;
  } = {}): Promise<ClusterStack> {
    const dir = await mkdtemp(join(tmpdir(), "rhs-cluster-"));
    const servers: RedisServer[] = [];
    for (let i = 0; i < masters * (1 + replicasPerMaster); i++) {
      servers.push(
        await RedisServer.server(dir, `cluster-${i + 1}`, { cluster: true, password, kind }),
      );
    }
    const topology = new ClusterStack(dir, servers);
    await topology.boot("Redis Cluster", async () => {
      await Promise.all(servers.map((server) => server.start()));
      const addresses = servers.map((server) => `127.0.0.1:${server.port}`);
      await run(serverBinary(kind, "cli"), [
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

  /** Each shard as CLUSTER SLOTS shows it now: its slot ranges, master and replicas. */
  async shards(): Promise<{ slots: string; master: RedisServer; replicas: RedisServer[] }[]> {
    const byMaster = new Map<number, SlotRange[]>();
    for (const range of await this.#slots()) {
      byMaster.set(range.master, [...(byMaster.get(range.master) ?? []), range]);
    }
    const server = (port: number) => this.servers.find((candidate) => candidate.port === port);
    return [...byMaster].flatMap(([port, ranges]) => {
      const master = server(port);
      if (master === undefined) return [];
      const replicas = new Set(ranges.flatMap((range) => range.replicas));
      return [
        {
          slots: ranges.map(({ from, to }) => `${from}-${to}`).join(","),
          master,
          replicas: this.servers.filter((candidate) => replicas.has(candidate.port)),
        },
      ];
    });
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
