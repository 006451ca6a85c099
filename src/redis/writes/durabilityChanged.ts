import type { Notices } from "../connection/Notices.js";
import type { StoreCounters } from "../stats.js";
import type { DurabilityChange } from "./ReplicaRule.js";

/**
 * Counts a master's writes becoming degraded or restored, and says so once per change (without
 * `DEBUG`: an operator must know that acknowledged writes have a single copy); whether it was a
 * change for this keyspace.
 */
export function durabilityChanged(
  change: DurabilityChange,
  counters: StoreCounters,
  notices: Notices,
): boolean {
  const { master, degraded, replicas, minimum } = change;
  if (!counters.degrade(master, degraded)) return false;
  if (degraded) {
    notices.cleared(`restored:${master}`);
    notices.once(
      `writes on ${master} are degraded: ${replicas} replica${replicas === 1 ? "" : "s"} can ` +
        `take them (\`durability.replicas\` is ${minimum}); they are acknowledged with the ` +
        "copies there are (`durability.whenFewer`) until a replica is back",
      `degraded:${master}`,
    );
  } else {
    notices.cleared(`degraded:${master}`);
    notices.once(
      `writes on ${master} are restored: ${replicas} replica${replicas === 1 ? "" : "s"} take them`,
      `restored:${master}`,
    );
  }
  return true;
}
