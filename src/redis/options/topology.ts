import { Cluster, Redis } from "ioredis";
import type { ConnectionOptions } from "node:tls";
import type { ClusterOptions, RedisOptions } from "ioredis";
import { checkPort, describe } from "./validate.js";
import { parseUrlTopology } from "./parseUrl.js";
import type { ParsedTopology } from "./ParsedTopology.js";

/** A Redis or Sentinel address. */
export interface RedisAddress {
  host: string;
  port: number;
}

/** Credentials and extra ioredis settings shared by the object forms. */
interface ConnectionExtras {
  /** ACL user of the Redis nodes. */
  username?: string;
  /** Password of the Redis nodes. */
  password?: string;
  /** TLS to the Redis nodes (CA, client certificate…); `rediss://` turns it on with defaults. */
  tls?: ConnectionOptions;
  /** Any other ioredis option; applied last, so it overrides the failover-tuned settings. */
  options?: RedisOptions;
}

/** One Redis node, or a managed service's primary endpoint. */
export interface SingleNodeTopology extends ConnectionExtras {
  /** `redis://[user:pass@]host:port[/db]` or `rediss://…` for TLS. */
  url: string;
}

/** A master with replicas, watched by Sentinel (the recommended shape). */
export interface SentinelTopology extends ConnectionExtras {
  sentinels: RedisAddress[];
  /** The master group name Sentinel monitors (`sentinel monitor <name> …`). */
  name: string;
  /** ACL user of the Sentinels, when they require one. */
  sentinelUsername?: string;
  /** Password of the Sentinels (`requirepass` in sentinel.conf). */
  sentinelPassword?: string;
  /** TLS to the Sentinels; given, Sentinels are reached over TLS. */
  sentinelTLS?: ConnectionOptions;
}

/** A Redis Cluster, given by some of its nodes. */
export interface ClusterTopology {
  cluster: RedisAddress[];
  username?: string;
  password?: string;
  /** TLS to the cluster's nodes. */
  tls?: ConnectionOptions;
  /** Any other ioredis Cluster option; applied last. */
  options?: ClusterOptions;
}

/**
 * Where the sessions live: an object form, a URL string (`redis://`, `rediss://`,
 * `redis-sentinel://host:port,host:port/mymaster`), or a ready ioredis client that the caller owns.
 */
export type RedisTopology =
  string | SingleNodeTopology | SentinelTopology | ClusterTopology | Redis | Cluster;

export type { ParsedTopology } from "./ParsedTopology.js";
export { isClusterTopology } from "./ParsedTopology.js";

const SINGLE_KEYS = ["url", "username", "password", "tls", "options"];
const SENTINEL_KEYS = [
  "sentinels",
  "name",
  "username",
  "password",
  "sentinelUsername",
  "sentinelPassword",
  "tls",
  "sentinelTLS",
  "options",
];
const CLUSTER_KEYS = ["cluster", "username", "password", "tls", "options"];

/**
 * Validates a topology and turns it into ioredis settings.
 * @throws TypeError naming `option` and what is wrong with it.
 */
export function parseTopology(topology: unknown, option = "redis"): ParsedTopology {
  if (isRedisClient(topology)) return { kind: "client", client: topology };
  if (typeof topology === "string") return parseUrlTopology(topology, option);
  if (typeof topology !== "object" || topology === null || Array.isArray(topology)) {
    throw new TypeError(
      `\`${option}\` must be a URL string, an object with \`url\`, \`sentinels\` or \`cluster\`, ` +
        `or an ioredis client; got ${describe(topology)}`,
    );
  }
  const record = topology as Record<string, unknown>;
  const forms = ["url", "sentinels", "cluster"].filter((key) => record[key] !== undefined);
  if (forms.length !== 1) {
    throw new TypeError(
      `\`${option}\` must have exactly one of \`url\`, \`sentinels\` or \`cluster\`; ` +
        (forms.length === 0 ? "it has none" : `it has ${forms.join(" and ")}`),
    );
  }
  if (record.url !== undefined) return parseSingle(record, option);
  if (record.sentinels !== undefined) return parseSentinel(record, option);
  return parseCluster(record, option);
}

function parseSingle(record: Record<string, unknown>, option: string): ParsedTopology {
  rejectUnknownKeys(record, SINGLE_KEYS, option);
  const url = record.url;
  if (typeof url !== "string") {
    throw new TypeError(`\`${option}.url\` must be a string; got ${describe(url)}`);
  }
  const parsed = parseUrlTopology(url, `${option}.url`);
  if (parsed.kind !== "single") {
    throw new TypeError(
      `\`${option}.url\` must be a redis:// or rediss:// URL; use a redis-sentinel:// string or ` +
        "the `sentinels` form for Sentinel",
    );
  }
  return {
    kind: "single",
    options: {
      ...parsed.options,
      ...strings(record, ["username", "password"], option),
      ...tlsOptions(record, option, parsed.options.tls),
      ...extraOptions(record, option),
    },
  };
}

function parseSentinel(record: Record<string, unknown>, option: string): ParsedTopology {
  rejectUnknownKeys(record, SENTINEL_KEYS, option);
  const sentinels = parseAddresses(record.sentinels, `${option}.sentinels`);
  const name = record.name;
  if (typeof name !== "string" || name === "") {
    throw new TypeError(
      `\`${option}.name\` must be the master group name Sentinel monitors (e.g. "mymaster"); ` +
        `got ${describe(name)}`,
    );
  }
  return {
    kind: "sentinel",
    options: {
      sentinels,
      name,
      ...strings(record, ["username", "password", "sentinelUsername", "sentinelPassword"], option),
      ...tlsOptions(record, option),
      ...extraOptions(record, option),
    },
  };
}

function parseCluster(record: Record<string, unknown>, option: string): ParsedTopology {
  rejectUnknownKeys(record, CLUSTER_KEYS, option);
  const nodes = parseAddresses(record.cluster, `${option}.cluster`);
  const extra: ClusterOptions = extraOptions(record, option);
  const auth = {
    ...strings(record, ["username", "password"], option),
    ...tlsOptions(record, option),
  };
  return {
    kind: "cluster",
    nodes,
    options: { ...extra, redisOptions: { ...extra.redisOptions, ...auth } },
  };
}

/** The given string settings of an object form, validated. */
function strings<K extends string>(
  record: Record<string, unknown>,
  keys: readonly K[],
  option: string,
): Partial<Record<K, string>> {
  const result: Partial<Record<K, string>> = {};
  for (const key of keys) {
    const value = record[key];
    if (value === undefined) continue;
    if (typeof value !== "string") {
      throw new TypeError(`\`${option}.${key}\` must be a string; got ${describe(value)}`);
    }
    result[key] = value;
  }
  return result;
}

/** `tls` (and, for Sentinel, `sentinelTLS`) as ioredis settings. */
function tlsOptions(
  record: Record<string, unknown>,
  option: string,
  fromUrl?: ConnectionOptions,
): Pick<RedisOptions, "tls" | "sentinelTLS" | "enableTLSForSentinelMode"> {
  const result: Pick<RedisOptions, "tls" | "sentinelTLS" | "enableTLSForSentinelMode"> = {};
  for (const key of ["tls", "sentinelTLS"] as const) {
    const value = record[key];
    if (value === undefined) continue;
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new TypeError(
        `\`${option}.${key}\` must be an object of TLS options (ca, cert, key…); got ${describe(value)}`,
      );
    }
    result[key] = key === "tls" ? { ...fromUrl, ...(value as ConnectionOptions) } : value;
  }
  if (result.sentinelTLS !== undefined) result.enableTLSForSentinelMode = true;
  return result;
}

/** The `options` escape hatch: other ioredis settings, applied over ours. */
function extraOptions(record: Record<string, unknown>, option: string): RedisOptions {
  const extra = record.options;
  if (extra === undefined) return {};
  if (typeof extra !== "object" || extra === null || Array.isArray(extra)) {
    throw new TypeError(
      `\`${option}.options\` must be an object of ioredis options; got ${describe(extra)}`,
    );
  }
  if ("keyPrefix" in extra) {
    throw new TypeError(
      `\`${option}.options.keyPrefix\` is not supported: use the store's \`prefix\` option`,
    );
  }
  return extra;
}

function parseAddresses(value: unknown, option: string): RedisAddress[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new TypeError(
      `\`${option}\` must be a non-empty array of { host, port }; got ${describe(value)}`,
    );
  }
  return value.map((entry: unknown, index) => {
    const where = `${option}[${index}]`;
    if (typeof entry !== "object" || entry === null) {
      throw new TypeError(`\`${where}\` must be { host, port }; got ${describe(entry)}`);
    }
    const { host, port } = entry as Record<string, unknown>;
    if (typeof host !== "string" || host === "") {
      throw new TypeError(`\`${where}.host\` must be a non-empty string; got ${describe(host)}`);
    }
    checkPort(port, `${where}.port`);
    return { host, port };
  });
}

function rejectUnknownKeys(record: Record<string, unknown>, known: string[], option: string): void {
  for (const key of Object.keys(record)) {
    if (!known.includes(key)) {
      throw new TypeError(
        `\`${option}.${key}\` is not a topology setting (known: ${known.join(", ")}); ` +
          `pass other ioredis settings in \`${option}.options\``,
      );
    }
  }
}

/** Whether `value` is an ioredis client, also one from another copy of ioredis. */
export function isRedisClient(value: unknown): value is Redis | Cluster {
  if (value instanceof Redis || value instanceof Cluster) return true;
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return (
    typeof candidate.status === "string" &&
    typeof candidate.defineCommand === "function" &&
    typeof candidate.evalsha === "function"
  );
}
