import { Redis } from "ioredis";
import type { RedisOptions } from "ioredis";
import { debugFor } from "../debug.js";

const log = debugFor("redis");

/**
 * A connection of our own to one of the topology's Sentinels: its Sentinel credentials, TLS,
 * connect timeout and reconnect strategy, with `settings` on top; errors are logged as `purpose`
 * (a Sentinel that is down must not crash the process with an unhandled "error" event).
 */
export function sentinelConnection(
  options: RedisOptions,
  { host = "127.0.0.1", port = 26379 }: { host?: string; port?: number },
  purpose: string,
  settings: Pick<RedisOptions, "commandTimeout" | "maxRetriesPerRequest">,
): Redis {
  const connection = new Redis({
    host,
    port,
    username: options.sentinelUsername ?? undefined,
    password: options.sentinelPassword ?? undefined,
    tls: options.sentinelTLS,
    enableReadyCheck: false,
    connectTimeout: options.connectTimeout,
    retryStrategy: options.sentinelReconnectStrategy ?? undefined,
    ...settings,
  });
  connection.on("error", (error: Error) => {
    log("Sentinel %s:%d (%s): %s", host, port, purpose, error.message);
  });
  return connection;
}
