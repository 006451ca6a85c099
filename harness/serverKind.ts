/**
 * Which server a stack runs: Redis 7.0 (Debian 12's redis-server) or Valkey 8 (bookworm-backports'
 * valkey-server, with WAITAOF and FAILOVER). Binaries are picked by path, so a package's
 * compatibility links can never make one stand in for the other.
 */
export type ServerKind = "redis" | "valkey";

/** Both servers, for suites that run on each (`describe.each(SERVER_KINDS)`). */
export const SERVER_KINDS: readonly ServerKind[] = ["redis", "valkey"];

/** The kind a stack runs when none is given: `RHS_SERVER=valkey`, else Redis. */
export function defaultServerKind(): ServerKind {
  const wanted = process.env.RHS_SERVER;
  if (wanted === undefined || wanted === "" || wanted === "redis") return "redis";
  if (wanted === "valkey") return "valkey";
  throw new Error(`RHS_SERVER must be "redis" or "valkey"; got "${wanted}"`);
}

/** The program that runs a data node, a Sentinel or the command-line client of `kind`. */
export function serverBinary(kind: ServerKind, role: "server" | "sentinel" | "cli"): string {
  return `/usr/bin/${kind}-${role}`;
}
