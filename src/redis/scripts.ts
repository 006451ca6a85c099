import { createHash } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import { replyIs } from "./connection/replies.js";

/** A Lua script and its SHA1, as EVALSHA names it. */
export interface Script {
  readonly lua: string;
  readonly sha: string;
}

/** A script, with its SHA computed once. */
export function script(lua: string): Script {
  return { lua, sha: createHash("sha1").update(lua).digest("hex") };
}

/**
 * The scripts each connection has been sent in full since it last connected: later calls send
 * only the SHA. Cleared on "ready", since a new connection may reach a new master that never saw
 * them.
 */
const loaded = new WeakMap<Redis | Cluster, Set<string>>();

function loadedOn(client: Redis | Cluster): Set<string> {
  let scripts = loaded.get(client);
  if (scripts === undefined) {
    const fresh = new Set<string>();
    scripts = fresh;
    loaded.set(client, fresh);
    client.on("ready", () => fresh.clear());
  }
  return scripts;
}

/**
 * Whether `sha` was sent in full (EVAL) on `client` since it last connected, so EVALSHA finds it;
 * from now on it counts as sent. For callers that send scripts themselves (the durable writer).
 */
export function sentBefore(client: Redis | Cluster, sha: string): boolean {
  const scripts = loadedOn(client);
  if (scripts.has(sha)) return true;
  scripts.add(sha);
  return false;
}

/** The server answered NOSCRIPT (its script cache was flushed): send the script in full again. */
export function forgetScript(client: Redis | Cluster, sha: string): void {
  loadedOn(client).delete(sha);
}

/**
 * Runs `script` on `client` — any ioredis client, the caller's own included: no command is defined
 * on it. EVAL the first time on a connection, EVALSHA after; EVAL again when the server answers
 * NOSCRIPT (its script cache was flushed). On a Cluster the first key routes the call.
 */
export async function runScript(
  client: Redis | Cluster,
  { lua, sha }: Script,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  const scripts = loadedOn(client);
  if (!scripts.has(sha)) {
    const reply = await client.call("EVAL", lua, keys.length, ...keys, ...args);
    scripts.add(sha);
    return reply;
  }
  try {
    return await client.call("EVALSHA", sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!replyIs(error, "NOSCRIPT")) throw error;
    return client.call("EVAL", lua, keys.length, ...keys, ...args);
  }
}
