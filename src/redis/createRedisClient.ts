import type { EventEmitter } from "node:events";
import { Cluster, Redis } from "ioredis";
import type { RedisOptions } from "ioredis";
import { debugFor } from "../debug.js";
import { DEFAULTS } from "../options.js";
import { parseTopology } from "./topology.js";
import type { ParsedTopology, RedisTopology } from "./topology.js";

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

/** Attaches the error listeners of the clients this library creates (also to duplicates). */
export function prepareClient<T extends Redis | Cluster>(client: T): T {
  withErrorListener(client);
  if (!client.isCluster) withSentinelErrorListeners(client as Redis);
  return client;
}

/** Builds the client of an already validated topology. */
export function clientFor(topology: ParsedTopology): Redis | Cluster {
  switch (topology.kind) {
    case "client":
      return topology.client;
    case "single":
      return withErrorListener(new Redis({ ...failoverSettings(), ...topology.options }));
    case "sentinel":
      return withSentinelErrorListeners(
        withErrorListener(
          new Redis({ ...failoverSettings(), ...sentinelSettings(), ...topology.options }),
        ),
      );
    case "cluster": {
      const { redisOptions, ...clusterOptions } = topology.options;
      return withErrorListener(
        new Cluster(topology.nodes, {
          clusterRetryStrategy: stepBackoff,
          ...clusterOptions,
          redisOptions: { ...failoverSettings(), ...redisOptions },
        }),
      );
    }
  }
}

/** Reconnect after 100 ms, 200 ms, … capped at 1 s: a new master is picked up promptly. */
function stepBackoff(attempt: number): number {
  const { retryStepMs, retryCapMs } = DEFAULTS.client;
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
    reconnectOnError: (error) => (error.message.startsWith("READONLY") ? 2 : false),
  };
}

function sentinelSettings(): RedisOptions {
  return {
    // Asking the Sentinels again soon after they could not name a master: during an election they
    // answer within a second or two.
    sentinelRetryStrategy: stepBackoff,
    // The failover detector's own Sentinel connections come back as promptly as the main one.
    sentinelReconnectStrategy: stepBackoff,
    // Subscribe to Sentinel's +switch-master: without it a frozen (SIGSTOPped) master is never
    // left, since its socket stays open.
    failoverDetector: true,
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
  // would print each one. They are reported through `debug` instead.
  client.on("error", (error: Error) => {
    log("redis client error: %s", error.message);
  });
  return client;
}
