import { Redis } from "ioredis";
import type { RedisOptions } from "ioredis";

/** How to reach a test server that needs more than host and port (a password, TLS). */
export const serverAccess = new Map<number, RedisOptions>();

/** Where `commandOnce` sends: the server, and how long to wait for the connection and the reply. */
export interface CommandTarget {
  host: string;
  port: number;
  timeoutMs: number;
  access?: RedisOptions | undefined;
}

/** Sends one command over a short-lived connection that never retries. */
export async function commandOnce(
  { host, port, timeoutMs, access }: CommandTarget,
  args: (string | number)[],
): Promise<unknown> {
  const client = new Redis({
    host,
    port,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    ...access,
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

/** Sends one command to the test server on 127.0.0.1:`port` (with its `serverAccess`). */
export async function redisCommand(port: number, ...args: (string | number)[]): Promise<unknown> {
  return commandOnce(
    { host: "127.0.0.1", port, timeoutMs: 2_000, access: serverAccess.get(port) },
    args,
  );
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
