import { NotReadyError } from "../errors/NotReadyError.js";
import type { Keyspace } from "./Keyspace.js";
import { positiveInteger } from "./options/validate.js";

/** What `ready()` takes. */
export interface ReadyOptions {
  /**
   * How long to wait for Redis to answer (a node still starting, a Sentinel still resolving).
   * @default 1500
   */
  timeoutMs?: number | undefined;
}

const DEFAULT_TIMEOUT_MS = 1_500;

/**
 * Resolves once Redis answers as a store's or a cache's options ask: reachable within
 * `timeoutMs`, a master, with at least `durability.replicas` replicas in sync (on a Cluster,
 * every shard). Rejects with a {@link NotReadyError} naming the cause otherwise.
 */
export async function whenReady(keyspace: Keyspace, options: ReadyOptions = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  positiveInteger(timeoutMs, "timeoutMs", "ms");
  const facts = await keyspace.health(timeoutMs);
  if (!facts.answered) {
    throw new NotReadyError(`Redis did not answer: ${facts.error}`, "unreachable");
  }
  const at = facts.master === undefined ? "" : ` at ${facts.master}`;
  if (facts.role !== null && facts.role !== "master") {
    throw new NotReadyError(
      `the node${at} answers as a ${facts.role === "slave" ? "replica" : facts.role}, not a ` +
        "master: every write would fail; point `redis` at the master, or use Sentinel",
      "not-master",
    );
  }
  const required = facts.requiredReplicas;
  if (required !== undefined && facts.replicas !== null && facts.replicas < required) {
    const shard = facts.shards === undefined ? `the master${at}` : "a shard's master";
    throw new NotReadyError(
      `\`durability.replicas\` is ${required}, but ${shard} has ${facts.replicas} ` +
        `replica${facts.replicas === 1 ? "" : "s"} in sync: writes would be acknowledged with ` +
        'fewer copies (`durability.whenFewer: "degrade"`) or refused ("refuse") until there are',
      "fewer-replicas",
    );
  }
}
