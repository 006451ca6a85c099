import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { ConfiguredServer } from "./ConfiguredServer.js";
import { freePort } from "./ports.js";
import { redisCommand, serverAccess } from "./redisCommand.js";
import { defaultServerKind, serverBinary } from "./serverKind.js";
import type { ServerKind } from "./serverKind.js";

/** What a test may set in a Sentinel's configuration. */
export interface SentinelSettings {
  password?: string | undefined;
  sentinelPassword?: string | undefined;
  /** `down-after-milliseconds`. */
  downAfterMs?: number | undefined;
  /** `failover-timeout`. */
  failoverTimeoutMs?: number | undefined;
  /** Which server runs it (default: `defaultServerKind()`). */
  kind?: ServerKind | undefined;
}

/** A redis-server or redis-sentinel on 127.0.0.1, with its config, data and log in `dir`. */
export class RedisServer extends ConfiguredServer {
  private constructor(
    name: string,
    port: number,
    dir: string,
    sentinel: boolean,
    readonly kind: ServerKind,
    /** A shared object to preload into the server (LD_PRELOAD), e.g. harness/crash's. */
    preload?: string,
  ) {
    super(name, "127.0.0.1", port, dir, (configFile) => {
      const binary = serverBinary(kind, sentinel ? "sentinel" : "server");
      // env execs the server in its own process: the pid is the server's.
      return preload === undefined
        ? [binary, [configFile]]
        : ["/usr/bin/env", [`LD_PRELOAD=${preload}`, binary, configFile]];
    });
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
      kind = defaultServerKind(),
      preload,
    }: {
      replicaOf?: number;
      cluster?: boolean;
      password?: string;
      extra?: string[];
      kind?: ServerKind;
      preload?: string | undefined;
    } = {},
  ): Promise<RedisServer> {
    const dir = await subdir(baseDir, name);
    const node = new RedisServer(name, await freePort(), dir, false, kind, preload);
    const lines = ["appendonly yes", 'save ""', "repl-diskless-sync-delay 0", ...extra];
    if (replicaOf !== undefined) lines.push(`replicaof 127.0.0.1 ${replicaOf}`);
    if (cluster) {
      // The bus port of its own: port + 10000 may be taken, or past 65535.
      lines.push(
        "cluster-enabled yes",
        `cluster-port ${await freePort()}`,
        "cluster-node-timeout 2000",
        "cluster-require-full-coverage no",
      );
    }
    if (password !== undefined) {
      lines.push(`requirepass ${password}`, `masterauth ${password}`);
      serverAccess.set(node.port, { password });
    }
    await node.writeConfig([`port ${node.port}`], lines);
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
  ): Promise<RedisServer> {
    const node = new RedisServer(
      name,
      await freePort(),
      await subdir(baseDir, name),
      false,
      defaultServerKind(),
    );
    await node.writeConfig(
      ["port 0", `tls-port ${node.port}`],
      [
        'save ""',
        `tls-cert-file ${tls.cert}`,
        `tls-key-file ${tls.key}`,
        `tls-ca-cert-file ${tls.ca}`,
        "tls-auth-clients no",
      ],
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
      kind = defaultServerKind(),
    }: SentinelSettings = {},
  ): Promise<RedisServer> {
    const node = new RedisServer(name, await freePort(), await subdir(baseDir, name), true, kind);
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
    await node.writeConfig([`port ${node.port}`], lines);
    return node;
  }

  /** Answers with the node's password or TLS settings (`serverAccess`). */
  protected override command(...args: (string | number)[]): Promise<unknown> {
    return redisCommand(this.port, ...args);
  }
}

async function subdir(baseDir: string, name: string): Promise<string> {
  const dir = join(baseDir, name);
  await mkdir(dir, { recursive: true });
  return dir;
}
