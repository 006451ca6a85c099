import type { EventEmitter } from "node:events";
import { Cluster, Redis } from "ioredis";
import type { RedisOptions } from "ioredis";
import { isNoSuchDatabase } from "./connection/ConnectionMonitor.js";
import { debugFor } from "./debug.js";
import { REDIS_DEFAULTS } from "./options/options.js";
import { SentinelWatch } from "./sentinel/SentinelWatch.js";
import { parseTopology } from "./options/topology.js";
import type { ParsedTopology, RedisTopology } from "./options/topology.js";
import { replyIs } from "./connection/replies.js";

const log = debugFor("redis");

/**
 * Creates an ioredis client tuned to ride through failovers. A client passed in is returned as is.
 *
 * @example
 * const redis = createRedisClient("redis-sentinel://10.0.0.5:26379,10.0.0.6:26379/mymaster");
 * const store = new RedisSessionStore({ redis });
 * @throws TypeError when the topology is invalid, naming what is wrong.
 */
export function createRedisClient(topology: RedisTopology): Redis | Cluster {
  return clientFor(parseTopology(topology, "topology"));
}

/** The seed nodes of each Cluster client this library created (`host:port`), for errors. */
const seeds = new WeakMap<Cluster, string[]>();

/** The seed nodes a Cluster client this library created was given; undefined for any other. */
export function seedsOf(client: Cluster): string[] | undefined {
  return seeds.get(client);
}

/** The Sentinel watch of each Sentinel client this library created, for its duplicates. */
const watches = new WeakMap<Redis, SentinelWatch>();

/** The Sentinel watch of a Sentinel client this library created; undefined for any other. */
export function sentinelWatchOf(client: Redis | Cluster): SentinelWatch | undefined {
  return watches.get(client as Redis);
}

/**
 * A second connection like `client` (the store's writer connections): the same settings, an
 * error listener, and on Sentinel the same watch of master switches.
 */
export function duplicateClient(client: Redis): Redis {
  const copy = withErrorListener(client.duplicate());
  const watch = watches.get(client);
  if (watch === undefined) return withSentinelErrorListeners(copy);
  watches.set(copy, watch);
  watch.track(copy);
  return copy;
}

/**
 * A connection to a replica, for reads, with the credentials and TLS of `options` (its master's
 * client's); `readOnly` for a Cluster replica (READONLY: it serves its master's slots). It
 * reconnects in the same steps as the client, but a command sent while it is not connected fails
 * at once (the read goes to the master instead of waiting).
 */
export function replicaConnection(
  { username, password, tls, db }: RedisOptions,
  host: string,
  port: number,
  readOnly = false,
): Redis {
  return withErrorListener(
    new Redis({
      host,
      port,
      username,
      password,
      tls,
      db,
      readOnly,
      retryStrategy: stepBackoff,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: REDIS_DEFAULTS.client.sentinelConnectTimeoutMs,
    }),
  );
}

/** Builds the client of an already validated topology. */
export function clientFor(topology: ParsedTopology): Redis | Cluster {
  switch (topology.kind) {
    case "client":
      return topology.client;
    case "single":
      return withErrorListener(new Redis({ ...failoverSettings(), ...topology.options }));
    case "sentinel": {
      const options = { ...failoverSettings(), ...sentinelSettings(), ...topology.options };
      const watch = new SentinelWatch(options);
      const client = withErrorListener(
        new Redis({ ...options, natMap: watch.natMap(topology.options.natMap) }),
      );
      watches.set(client, watch);
      watch.track(client);
      return client;
    }
    case "cluster": {
      const { redisOptions, ...clusterOptions } = topology.options;
      const cluster = withErrorListener(
        new Cluster(topology.nodes, {
          clusterRetryStrategy: stepBackoff,
          // What autopipelining is on the node clients, per node (theirs is not consulted).
          enableAutoPipelining: true,
          // The slot map is looked at every second, not only after an error: a failover (or a
          // frozen master's replacement) is followed even by a client that sent nothing there.
          slotsRefreshInterval: REDIS_DEFAULTS.client.slotsRefreshMs,
          ...clusterOptions,
          redisOptions: {
            ...failoverSettings(),
            // A frozen master answers nothing: its connection is given up, and the command sent
            // again where the slot map says (its replica, once promoted).
            socketTimeout: REDIS_DEFAULTS.client.clusterSocketTimeoutMs,
            ...redisOptions,
          },
        }),
      );
      seeds.set(
        cluster,
        topology.nodes.map((node) =>
          typeof node === "object" ? `${node.host ?? ""}:${node.port ?? ""}` : String(node),
        ),
      );
      return cluster;
    }
  }
}

/** Reconnect after 100 ms, 200 ms, … capped at 1 s: a new master is picked up promptly. */
function stepBackoff(attempt: number): number {
  const { retryStepMs, retryCapMs } = REDIS_DEFAULTS.client;
  return Math.min(attempt * retryStepMs, retryCapMs);
}

function failoverSettings(): RedisOptions {
  return {
    retryStrategy: stepBackoff,
    // Commands wait through a failover instead of failing after 20 retries; how long a request
    // may wait is bounded by the middleware, not by a retry count.
    maxRetriesPerRequest: null,
    // Commands issued in the same tick by concurrent requests go out in one write: fewer reads
    // and syscalls on the shared master.
    enableAutoPipelining: true,
    // A demoted master answers READONLY until the client notices the failover: reconnect (2) and
    // resend the command, so it reaches the new master.
    reconnectOnError: (error) => (replyIs(error, "READONLY") ? 2 : false),
  };
}

function sentinelSettings(): RedisOptions {
  return {
    // Asking the Sentinels again soon after they could not name a master: during an election they
    // answer within a second or two.
    sentinelRetryStrategy: stepBackoff,
    // The watch's Sentinel subscriptions come back as promptly as the connections.
    sentinelReconnectStrategy: stepBackoff,
    // A Sentinel that does not answer (frozen, overloaded) must not hold a reconnection up: the
    // next one is asked.
    sentinelCommandTimeout: REDIS_DEFAULTS.client.sentinelTimeoutMs,
    // A host cut off by a partition answers nothing at all: give up on it promptly.
    connectTimeout: REDIS_DEFAULTS.client.sentinelConnectTimeoutMs,
    // SentinelWatch follows +switch-master instead (see there why not ioredis' detector).
    failoverDetector: false,
  };
}

/** The Sentinel connections of ioredis' failover detector, which it does not expose. */
interface DetectorInternals {
  connector?: { failoverDetector?: { sentinels?: { client?: EventEmitter }[] } };
}

/**
 * ioredis opens one connection per Sentinel for its failover detector and attaches no `error`
 * listener to them, so a Sentinel that goes down makes each print "[ioredis] Unhandled error
 * event" on every reconnect attempt (ioredis issues #1390, #1829). Route those to `debug` too.
 * Only for clients passed in (with their own `failoverDetector`): the library's use SentinelWatch.
 * Reaches into ioredis internals defensively: if they change, this does nothing.
 */
function withSentinelErrorListeners(client: Redis): Redis {
  client.on("failoverSubscribed", () => {
    const sentinels = (client as unknown as DetectorInternals).connector?.failoverDetector
      ?.sentinels;
    for (const { client: sentinel } of sentinels ?? []) {
      if (sentinel?.listenerCount("error") === 0) {
        sentinel.on("error", (error: Error) => {
          log("sentinel connection error: %s", error.message);
        });
      }
    }
  });
  return client;
}

function withErrorListener<T extends Redis | Cluster>(client: T): T {
  // Connection errors are expected during a failover and retried; without a listener ioredis
  // would print each one. They are reported through `debug` instead (and what an operator must
  // know, by the connection's monitor).
  client.on("error", (error: Error) => {
    log("redis client error: %s", error.message);
    // ioredis carries on in database 0 when the one asked for does not exist: closed before it
    // sends anything there (commands already queued fail with it). See ConnectionMonitor.
    if (isNoSuchDatabase(error)) client.disconnect();
  });
  return client;
}
