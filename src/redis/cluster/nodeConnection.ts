import { Redis } from "ioredis";
import type { Cluster, RedisOptions } from "ioredis";
import { debugFor } from "../debug.js";

const log = debugFor("redis");

/**
 * A connection of its own to one node of `cluster` (`host:port` as its slot map names it), with
 * the Cluster's node options (credentials, TLS) and `options`, never re-established: once it
 * closes, its user drops it and opens another where the slot map says. Errors are logged as
 * `what`'s.
 */
export function nodeConnection(
  cluster: Cluster,
  address: string,
  what: string,
  options: RedisOptions = {},
): Redis {
  const separator = address.lastIndexOf(":");
  const connection = new Redis({
    ...cluster.options.redisOptions,
    host: address.slice(0, separator),
    port: Number(address.slice(separator + 1)),
    retryStrategy: () => null,
    ...options,
  });
  connection.on("error", (error: Error) => {
    log("%s connection to %s: %s", what, address, error.message);
  });
  return connection;
}

/** The masters `cluster`'s slot map names now, as `host:port`. */
export function slotMasters(cluster: Cluster): Set<string> {
  const masters = new Set<string>();
  for (const [master] of cluster.slots) if (master !== undefined) masters.add(master);
  return masters;
}
