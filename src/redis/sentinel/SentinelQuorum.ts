import { isIP } from "node:net";
import { lookup } from "node:dns/promises";
import type { Redis, RedisOptions } from "ioredis";
import { debugFor } from "../debug.js";
import { promotableIn, selectableIn } from "./replicaChoice.js";
import { sentinelConnection } from "./sentinelConnection.js";

const log = debugFor("redis");

/** How often every Sentinel is asked which master it follows. */
const POLL_MS = 250;
/** An answer older than this does not count. */
const FRESH_MS = 1_000;
/** How long a host name's addresses are trusted. */
const LOOKUP_MS = 10_000;

/** What one Sentinel said of the master (`SENTINEL MASTER <name>`). */
export interface SentinelAnswer {
  at: number;
  /** `host:port` as the Sentinel names it, after the topology's natMap. */
  master: string;
  /** The master's configuration epoch: each failover makes a higher one. */
  epoch: number;
  /** Replicas Sentinel lists for the master, connected or not. */
  replicas: number;
  /**
   * Replicas this Sentinel could promote in place of the master (`host:port`, after natMap):
   * linked, not down or disconnected, master link ok, priority above 0, answering its pings (see
   * {@link promotableIn}). Undefined when its replica list did not come with the answer.
   */
  promotable?: ReadonlySet<string> | undefined;
  /**
   * The replicas that Sentinel could select in a failover by its own rule (see
   * {@link selectableIn}), synced or not: a superset of `promotable`.
   */
  selectable?: ReadonlySet<string> | undefined;
  /**
   * The Sentinel sees that master as up and is not failing it over (no `s_down`, `o_down`,
   * `failover_in_progress` flag): a failover's leader names the old master at the new epoch until
   * it is done.
   */
  healthy: boolean;
}

/**
 * Asks every configured Sentinel, four times a second each, which master it follows, and says from
 * that which master a write may be acknowledged on.
 *
 * A Sentinel cut off during a failover keeps naming the old master until it hears of the new
 * configuration, and meanwhile "fixes" replicas to follow that old master: a write confirmed there
 * by WAIT is discarded when the old master is demoted (seen in the flapping partition test). So
 * a master is vouched for only when a majority of the configured Sentinels answered within the
 * last second, and it is the master of the highest configuration epoch among those answers
 * ({@link vouchedMaster}). A side of a partition without a Sentinel majority therefore
 * acknowledges no durable write.
 */
export class SentinelQuorum {
  readonly #answers: (SentinelAnswer | undefined)[];
  readonly #connections: Redis[] = [];
  readonly #addresses = new Map<string, { at: number; addresses: Promise<Set<string>> }>();
  /** Per Sentinel: its next ask (each is asked on its own, so a silent one holds no other up). */
  readonly #timers: (NodeJS.Timeout | undefined)[];
  /** Per Sentinel: an ask in flight. */
  readonly #asking: boolean[];
  #closed = false;
  #vouched: string | undefined;
  #knownReplicas: number | undefined;

  constructor(
    private readonly options: RedisOptions,
    /** Maps a Sentinel's `host:port` answer as the connections' natMap would. */
    readonly natMap: (address: string) => string,
    /** Called when the vouched-for master changes. */
    private readonly onMaster: (to: string, from: string) => void,
  ) {
    const sentinels = options.sentinels ?? [];
    this.#answers = sentinels.map(() => undefined);
    this.#timers = sentinels.map(() => undefined);
    this.#asking = sentinels.map(() => false);
    for (const sentinel of sentinels) {
      const connection = sentinelConnection(options, sentinel, "quorum", {
        commandTimeout: FRESH_MS / 2,
        maxRetriesPerRequest: 0,
      });
      this.#connections.push(connection);
    }
    this.refresh();
  }

  /** Asks every Sentinel now (after an announcement: the new master is vouched for sooner). */
  refresh(): void {
    this.#connections.forEach((_, i) => {
      void this.#ask(i);
    });
  }

  /** Replicas the vouched-for master should have, as Sentinel lists them (last known). */
  get knownReplicas(): number | undefined {
    return this.#knownReplicas;
  }

  /**
   * The replicas each Sentinel of the majority that vouches for the master now could promote in
   * its place (each Sentinel may lead the next failover); undefined while no master is vouched
   * for.
   */
  promotable(): ReadonlySet<string> | undefined {
    return this.#union(({ promotable }) => promotable, "skipped");
  }

  /**
   * The replicas a Sentinel of the vouching majority could select in a failover, by Sentinel's
   * own rule, whether or not they have the master's writes (an old master that rejoined and is
   * not re-pointed yet, a replica whose link is down); undefined while no master is vouched for
   * or a Sentinel of the majority did not list its replicas (then nobody can tell).
   */
  selectable(): ReadonlySet<string> | undefined {
    return this.#union(({ selectable }) => selectable, "unknown");
  }

  /**
   * The union of `list` over the answers of the vouching majority; undefined while no master is
   * vouched for, or when an answer has no list and `unlisted` says that makes the union unknown.
   */
  #union(
    list: (answer: SentinelAnswer) => ReadonlySet<string> | undefined,
    unlisted: "skipped" | "unknown",
  ): ReadonlySet<string> | undefined {
    const vouched = vouchedAnswers(this.#answers, Date.now());
    if (vouched.length === 0) return undefined;
    const union = new Set<string>();
    for (const answer of vouched) {
      const addresses = list(answer);
      if (addresses === undefined && unlisted === "unknown") return undefined;
      for (const address of addresses ?? []) union.add(address);
    }
    return union;
  }

  /**
   * Whether a write on a connection to `address` (`ip:port`, as its socket sees it) may be
   * acknowledged: it is the master a Sentinel majority vouches for now.
   */
  vouches(address: string | undefined): boolean | Promise<boolean> {
    const master = this.#current();
    if (master === undefined || address === undefined) return false;
    if (master === address) return true;
    if (isIP(master.slice(0, master.lastIndexOf(":"))) !== 0) return false;
    return this.#resolve(master).then((addresses) => addresses.has(address));
  }

  close(): void {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    for (const connection of this.#connections.splice(0)) connection.disconnect();
  }

  /** The master a majority vouches for now (see {@link vouchedMaster}). */
  #current(): string | undefined {
    const vouched = vouchedMaster(this.#answers, Date.now());
    if (vouched !== undefined) this.#knownReplicas = vouched.replicas;
    return vouched?.master;
  }

  /** Asks Sentinel `index` which master it follows, then again POLL_MS after this ask began. */
  async #ask(index: number): Promise<void> {
    const connection = this.#connections[index];
    if (connection === undefined || this.#asking[index] === true || this.#closed) return;
    this.#asking[index] = true;
    clearTimeout(this.#timers[index]);
    const started = Date.now();
    try {
      const name = this.options.name ?? "";
      // Both in one round trip: the replica list belongs to the master named with it.
      const [reply, replicas] = await Promise.all([
        connection.call("SENTINEL", "MASTER", name),
        connection.call("SENTINEL", "REPLICAS", name).catch(() => undefined),
      ]);
      const fields = pairsOf(reply);
      const ip = fields.get("ip");
      const port = fields.get("port");
      if (ip !== undefined && port !== undefined) {
        this.#answers[index] = {
          at: Date.now(),
          master: this.natMap(`${ip}:${port}`),
          epoch: Number(fields.get("config-epoch") ?? 0),
          replicas: Number(fields.get("num-slaves") ?? 0),
          promotable: Array.isArray(replicas)
            ? promotableIn(replicas.map(pairsOf), this.natMap)
            : undefined,
          selectable: Array.isArray(replicas)
            ? selectableIn(replicas.map(pairsOf), fields, this.natMap)
            : undefined,
          healthy: !/s_down|o_down|failover_in_progress/.test(fields.get("flags") ?? ""),
        };
        this.#noticeMaster();
      }
    } catch (error) {
      // No answer in time: a partition drops packets without a word, and TCP would keep this
      // socket waiting for many seconds after the heal. A fresh connection asks next time.
      if (error instanceof Error && error.message === "Command timed out") {
        connection.stream.destroy();
      }
    } finally {
      this.#asking[index] = false;
    }
    // Closed meanwhile: its connection has ended.
    if (connection.status === "end") return;
    const wait = Math.max(0, POLL_MS - (Date.now() - started));
    this.#timers[index] = setTimeout(() => void this.#ask(index), wait).unref();
  }

  /** Tells the watch when the master a majority vouches for has changed. */
  #noticeMaster(): void {
    const master = this.#current();
    if (master === undefined || master === this.#vouched) return;
    const previous = this.#vouched;
    this.#vouched = master;
    if (previous !== undefined) {
      log("Sentinel majority names master %s (was %s)", master, previous);
      this.onMaster(master, previous);
    }
  }

  /** The `ip:port`s a master named by host name stands for (looked up again after 10 s). */
  #resolve(master: string): Promise<Set<string>> {
    const cached = this.#addresses.get(master);
    if (cached !== undefined && Date.now() - cached.at < LOOKUP_MS) return cached.addresses;
    const at = master.lastIndexOf(":");
    const host = master.slice(0, at);
    const port = master.slice(at + 1);
    const addresses = lookup(host, { all: true }).then(
      (found) => new Set(found.map(({ address }) => `${address}:${port}`)),
      () => new Set<string>(),
    );
    this.#addresses.set(master, { at: Date.now(), addresses });
    return addresses;
  }
}

/**
 * The answer naming the master writes may be acknowledged on, from every configured Sentinel's last answer
 * (undefined: none yet). The answers less than a second old must be a majority of the Sentinels;
 * the highest configuration epoch among them is the latest failover any of them knows of, and the
 * master is the one named at that epoch by the answers that see it up and are not failing it over,
 * if they agree. A Sentinel that names a master at a lower epoch is out of date — cut off during
 * that failover, it may still see the old master up (seen in the flapping partition test) — so
 * its answer never vouches for a master; nor does a newer master that the Sentinels knowing of it
 * see down.
 */
export function vouchedMaster(
  answers: readonly (SentinelAnswer | undefined)[],
  now: number,
): SentinelAnswer | undefined {
  return vouchedAnswers(answers, now)[0];
}

/**
 * The answers that vouch for the master (see {@link vouchedMaster}), all naming it; none when no
 * master is vouched for.
 */
function vouchedAnswers(
  answers: readonly (SentinelAnswer | undefined)[],
  now: number,
): SentinelAnswer[] {
  const fresh = answers.filter(
    (answer): answer is SentinelAnswer => answer !== undefined && now - answer.at <= FRESH_MS,
  );
  if (fresh.length <= answers.length / 2) return [];
  const epoch = Math.max(...fresh.map((answer) => answer.epoch));
  // At that epoch, the answers that see their master up: a failover's leader names the old master
  // (failing it over) until it has reconfigured the replicas, while others name the promoted one.
  const latest = fresh.filter((answer) => answer.epoch === epoch && answer.healthy);
  const best = latest[0];
  // Sentinels at the same epoch naming different masters up: no master is sure.
  if (latest.some((answer) => answer.master !== best?.master)) return [];
  return latest;
}

/** A flat `[field, value, …]` reply as a map. */
function pairsOf(reply: unknown): Map<string, string> {
  const fields = new Map<string, string>();
  const flat = Array.isArray(reply) ? (reply as unknown[]) : [];
  for (let i = 0; i + 1 < flat.length; i += 2) fields.set(String(flat[i]), String(flat[i + 1]));
  return fields;
}
