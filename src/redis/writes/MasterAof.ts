import { addressOf } from "../sentinel/SentinelWatch.js";
import type { ReplicaRule } from "./ReplicaRule.js";
import type { WriterLane } from "./WriterLane.js";

/**
 * Whether a master can confirm a write is in its AOF on disk: yes; no WAITAOF; no AOF; its
 * WAITAOF counts a write before the fsync (`appendfsync everysec` where the server has
 * redis/redis#13793's bug); `appendfsync no`.
 */
export type AofSupport = "yes" | "no-command" | "no-aof" | "acks-early" | "no-fsync";

/** Why the fsync tier cannot be had from a master, by what it lacks. */
export const FSYNC_REFUSED: Record<Exclude<AofSupport, "yes">, string> = {
  "no-command":
    "`durability.fsync` needs WAITAOF (Redis 7.2 or later, or Valkey): this server has none",
  "no-aof": "`durability.fsync` needs `appendonly yes` on the master",
  "acks-early":
    "`durability.fsync` needs `appendfsync always` on this server: under `everysec` its WAITAOF " +
    "counts a write before it is fsynced (Valkey, and Redis before 8.0: redis/redis#13793)",
  "no-fsync": "`durability.fsync` needs `appendfsync always` on the master (it has `no`)",
};

/**
 * What each writer connection's master can confirm of its own AOF ({@link AofSupport}), asked
 * once per connection and forgotten when that reconnects.
 */
export class MasterAof {
  readonly #support = new WeakMap<WriterLane, { epoch: number; support: AofSupport }>();

  constructor(private readonly rule: Pick<ReplicaRule, "fsync" | "misconfigured">) {}

  /** What is known of the lane's master on its current connection; undefined: not asked yet. */
  known(lane: WriterLane): AofSupport | undefined {
    const known = this.#support.get(lane);
    return known?.epoch === lane.epoch ? known.support : undefined;
  }

  /**
   * Whether the lane's master has WAITAOF with its AOF on, and for the fsync tier whether its
   * WAITAOF waits for the fsync.
   */
  async of(lane: WriterLane, epoch: number): Promise<AofSupport> {
    const known = this.#support.get(lane);
    if (known?.epoch === epoch) return known.support;
    const lacking = await lane.connection.call("WAITAOF", 1, 0, 1).then(
      () => undefined,
      (error: unknown): AofSupport =>
        error instanceof Error && /unknown command/i.test(error.message) ? "no-command" : "no-aof",
    );
    const support = lacking ?? (await this.#fsyncPolicy(lane));
    this.#support.set(lane, { epoch, support });
    return support;
  }

  /**
   * Whether WAITAOF's own count means "on disk" on the lane's master: with `appendfsync always`
   * on every server; with `everysec` only where the server has redis/redis#13793's fix (Redis
   * 8.0 and later; no Valkey release yet), elsewhere it counts a write once it is written,
   * before the fsync (seen on Valkey 8.0.1: harness/crash); under `no` never (its WAITAOF does
   * not answer, so a degraded write is acknowledged from memory there). Where CONFIG is refused
   * (renamed on many managed services) the policy cannot be read: trusted, and said once.
   */
  async #fsyncPolicy(lane: WriterLane): Promise<AofSupport> {
    const [policy, info] = await Promise.all([
      lane.connection.call("CONFIG", "GET", "appendfsync").then(
        (reply) => (Array.isArray(reply) ? String(reply[1]) : undefined),
        () => undefined,
      ),
      this.rule.fsync ? lane.connection.call("INFO", "server").then(String) : "",
    ]);
    if (policy === "no") return "no-fsync";
    if (policy === "always" || !this.rule.fsync) return "yes";
    if (!countsBeforeFsync(info)) return "yes";
    if (policy === undefined) {
      this.rule.misconfigured(
        `cannot read \`appendfsync\` on ${addressOf(lane.connection) ?? "the master"} (CONFIG ` +
          "refused): `durability.fsync` holds there only with `appendfsync always` (under " +
          "`everysec` its WAITAOF counts writes before they are fsynced: redis/redis#13793)",
      );
      return "yes";
    }
    return "acks-early";
  }
}

/**
 * Whether a server, by its `INFO server`, counts a write in WAITAOF before fsyncing it under
 * `appendfsync everysec` (redis/redis#13793, fixed in Redis 8.0; every Valkey release to date).
 */
export function countsBeforeFsync(info: string): boolean {
  if (/^(server_name:valkey|valkey_version:)/m.test(info)) return true;
  const major = /^redis_version:(\d+)\./m.exec(info)?.[1];
  return major === undefined || Number(major) < 8;
}
