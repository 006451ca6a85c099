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

/** Builds the client of an already validated topology. */
export function clientFor(topology: ParsedTopology): Redis | Cluster {
  switch (topology.kind) {
    case "client":
      return topology.client;
    case "single":
      return withErrorListener(new Redis({ ...failoverSettings(), ...topology.options }));
    case "sentinel":
      return withErrorListener(
        new Redis({ ...failoverSettings(), ...sentinelSettings(), ...topology.options }),
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
    // A demoted master answers READONLY until the client notices the failover: reconnect (2) and
    // resend the command, so it reaches the new master.
    reconnectOnError: (error) => (error.message.startsWith("READONLY") ? 2 : false),
  };
}

function sentinelSettings(): RedisOptions {
  return {
    sentinelRetryStrategy: stepBackoff,
    // Subscribe to Sentinel's +switch-master: without it a frozen (SIGSTOPped) master is never
    // left, since its socket stays open.
    failoverDetector: true,
  };
}

function withErrorListener<T extends Redis | Cluster>(client: T): T {
  // Connection errors are expected during a failover and retried; without a listener ioredis
  // would print each one. They are reported through `debug` instead.
  client.on("error", (error: Error) => {
    log("redis client error: %s", error.message);
  });
  return client;
}
