/**
 * Which replicas of a master, as one Sentinel lists them (`SENTINEL REPLICAS`), a write has to
 * reach ({@link promotableIn}) and which a failover could select ({@link selectableIn}).
 */

/**
 * A replica that has not answered Sentinel's pings for this long is not one it would promote
 * (Sentinel's own rule while the master is down: five ping periods).
 */
const PROMOTABLE_PING_MS = 5_000;

/**
 * The replicas of a `SENTINEL REPLICAS` answer that Sentinel could promote: not `s_down` or
 * `o_down`, master link ok, `slave-priority` above 0, and answering pings. `disconnected` is not
 * enough to leave one out: Sentinel's own `CLIENT KILL TYPE normal` when it promotes a replica
 * drops its links to that very replica, which every Sentinel then flags `disconnected` for
 * 40–100 ms (seen in a SENTINEL FAILOVER that lost acknowledged writes through that gap). A dead
 * replica is told apart by its refused port instead (MasterView.probe).
 */
export function promotableIn(
  replicas: readonly ReadonlyMap<string, string>[],
  natMap: (address: string) => string,
): Set<string> {
  const promotable = new Set<string>();
  for (const replica of replicas) {
    const flags = replica.get("flags") ?? "";
    if (/s_down|o_down/.test(flags)) continue;
    if (replica.get("master-link-status") !== "ok") continue;
    if (Number(replica.get("slave-priority") ?? 100) === 0) continue;
    if (Number(replica.get("last-ok-ping-reply") ?? 0) > PROMOTABLE_PING_MS) continue;
    const ip = replica.get("ip");
    const port = replica.get("port");
    if (ip !== undefined && port !== undefined) promotable.add(natMap(`${ip}:${port}`));
  }
  return promotable;
}

/**
 * The replicas of `replicas` (SENTINEL REPLICAS) that the Sentinel could select to replace
 * `master` (its SENTINEL MASTER fields) now or within seconds, by its own rule
 * (sentinelSelectReplica): not `s_down`/`o_down`, answered a ping within 5 s, priority above 0,
 * and its link to the master down no longer than 10 × `down-after-milliseconds` (plus the time
 * the master has been `s_down`). Unlike {@link promotableIn}, a replica whose link is down
 * counts, and so does an old master that rejoined but still reports itself master (Sentinel
 * re-points it only seconds later): either may be selected without the master's latest writes.
 * Sentinel itself passes over a `disconnected` replica, and one whose INFO is not recent, but
 * both hold only until its next connection: every replica entry a failover creates for the new
 * master starts `disconnected` without INFO, the old master's among them (a write acknowledged
 * degraded through that gap of a second was lost in the flapping partition scenario).
 */
export function selectableIn(
  replicas: readonly ReadonlyMap<string, string>[],
  master: ReadonlyMap<string, string>,
  natMap: (address: string) => string,
): Set<string> {
  const downAfter = Number(master.get("down-after-milliseconds") ?? 30_000);
  const sDownFor = (master.get("flags") ?? "").includes("s_down")
    ? Number(master.get("s-down-time") ?? 0)
    : 0;
  const linkDownLimit = downAfter * 10 + sDownFor;
  const selectable = new Set<string>();
  for (const replica of replicas) {
    if (/s_down|o_down/.test(replica.get("flags") ?? "")) continue;
    if (Number(replica.get("slave-priority") ?? 100) === 0) continue;
    if (Number(replica.get("last-ok-ping-reply") ?? 0) > PROMOTABLE_PING_MS) continue;
    if (Number(replica.get("master-link-down-time") ?? 0) > linkDownLimit) continue;
    const ip = replica.get("ip");
    const port = replica.get("port");
    if (ip !== undefined && port !== undefined) selectable.add(natMap(`${ip}:${port}`));
  }
  return selectable;
}
