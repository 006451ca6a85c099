import { Redis } from "ioredis";
import type { RedisOptions } from "ioredis";

/** How to reach a test server that needs more than host and port (a password, TLS). */
export const serverAccess = new Map<number, RedisOptions>();

/** Sends one command to the server on `port` over a short-lived connection that never retries. */
export async function redisCommand(port: number, ...args: (string | number)[]): Promise<unknown> {
  const client = new Redis({
    host: "127.0.0.1",
    port,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
    commandTimeout: 2_000,
    ...serverAccess.get(port),
  });
  client.on("error", () => undefined);
  try {
    await client.connect();
    const [command, ...rest] = args;
    return await client.call(String(command), ...rest);
  } finally {
    client.disconnect();
  }
}

/** `INFO <section>` as a map of its `key:value` lines. */
export async function redisInfo(port: number, section: string): Promise<Map<string, string>> {
  const text = String(await redisCommand(port, "INFO", section));
  const info = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf(":");
    if (at > 0) info.set(line.slice(0, at), line.slice(at + 1));
  }
  return info;
}
