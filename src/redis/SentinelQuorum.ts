import { isIP } from "node:net";
import { lookup } from "node:dns/promises";
import { Redis } from "ioredis";
import type { RedisOptions } from "ioredis";
import { debugFor } from "../debug.js";

const log = debugFor("redis");

/** How often every Sentinel is asked which master it follows. */
const POLL_MS = 250;
/** An answer older than this does not count. */
const FRESH_MS = 1_000;
/** How long a host name's addresses are trusted. */
const LOOKUP_MS = 10_000;

/** What one Sentinel said of the master (`SENTINEL MASTER <name>`). */
interface Answer {
  at: number;
  /** `host:port` as the Sentinel names it, after the topology's natMap. */
  master: string;
  /** The master's configuration epoch: each failover makes a higher one. */
  epoch: number;
  /** Replicas Sentinel lists for the master, connected or not. */
  replicas: number;
}

/**
 * Asks every configured Sentinel, four times a second, which master it follows, and says from
 * that which master a write may be acknowledged on.
 *
 * A Sentinel cut off during a failover keeps naming the old master until it hears of the new
 * configuration, and meanwhile "fixes" replicas to follow that old master: a write confirmed there
 * by WAIT is discarded when the old master is demoted (seen in the flapping partition test). So
 * a master is vouched for only when a majority of the configured Sentinels answered within the
 * last second, and it is the master of the highest configuration epoch among those answers. A
 * side of a partition without a Sentinel majority therefore acknowledges no durable write.
 */
export class SentinelQuorum {
  readonly #answers: (Answer | undefined)[];
  readonly #connections: Redis[] = [];
  readonly #addresses = new Map<string, { at: number; addresses: Promise<Set<string>> }>();
  readonly #timer: NodeJS.Timeout;
  #vouched: string | undefined;
  #knownReplicas: number | undefined;
  #polling = false;

  constructor(
    private readonly options: RedisOptions,
    /** Maps a Sentinel's `host:port` answer as the connections' natMap would. */
    private readonly natMap: (address: string) => string,
    /** Called when the vouched-for master changes. */
    private readonly onMaster: (to: string, from: string) => void,
  ) {
    const sentinels = options.sentinels ?? [];
    this.#answers = sentinels.map(() => undefined);
    for (const { host = "127.0.0.1", port = 26379 } of sentinels) {
      const connection = new Redis({
        host,
        port,
        username: options.sentinelUsername ?? undefined,
        password: options.sentinelPassword ?? undefined,
        tls: options.sentinelTLS,
        enableReadyCheck: false,
        connectTimeout: options.connectTimeout,
        commandTimeout: FRESH_MS / 2,
        maxRetriesPerRequest: 0,
        retryStrategy: options.sentinelReconnectStrategy ?? undefined,
      });
      connection.on("error", (error: Error) => {
        log("Sentinel %s:%d (quorum): %s", host, port, error.message);
      });
      this.#connections.push(connection);
    }
    this.#timer = setInterval(() => void this.#poll(), POLL_MS).unref();
    void this.#poll();
  }

  /** Replicas the vouched-for master should have, as Sentinel lists them (last known). */
  get knownReplicas(): number | undefined {
    return this.#knownReplicas;
  }

  /**
   * Whether a write on a connection to `address` (`ip:port`, as its socket sees it) may be
   * acknowledged: it is the master a Sentinel majority vouches for now.
   */
  async vouches(address: string | undefined): Promise<boolean> {
    const master = this.#current();
    if (master === undefined || address === undefined) return false;
    if (master === address) return true;
    return (await this.#resolve(master)).has(address);
  }

  close(): void {
    clearInterval(this.#timer);
    for (const connection of this.#connections.splice(0)) connection.disconnect();
  }

  /** The master of the highest epoch among fresh answers from a majority, if there is one. */
  #current(): string | undefined {
    const now = Date.now();
    const fresh = this.#answers.filter(
      (answer): answer is Answer => answer !== undefined && now - answer.at <= FRESH_MS,
    );
    if (fresh.length <= this.#answers.length / 2) return undefined;
    let best: Answer | undefined;
    for (const answer of fresh) {
      if (best === undefined || answer.epoch > best.epoch) best = answer;
      else if (answer.epoch === best.epoch && answer.master !== best.master) return undefined;
    }
    if (best !== undefined) this.#knownReplicas = best.replicas;
    return best?.master;
  }

  async #poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      await Promise.all(this.#connections.map((connection, i) => this.#ask(connection, i)));
    } finally {
      this.#polling = false;
    }
    const master = this.#current();
    if (master !== undefined && master !== this.#vouched) {
      const previous = this.#vouched;
      this.#vouched = master;
      if (previous !== undefined) {
        log("Sentinel majority names master %s (was %s)", master, previous);
        this.onMaster(master, previous);
      }
    }
  }

  async #ask(connection: Redis, index: number): Promise<void> {
    try {
      const reply = await connection.call("SENTINEL", "MASTER", this.options.name ?? "");
      const fields = new Map<string, string>();
      const flat = Array.isArray(reply) ? (reply as unknown[]) : [];
      for (let i = 0; i + 1 < flat.length; i += 2) fields.set(String(flat[i]), String(flat[i + 1]));
      const ip = fields.get("ip");
      const port = fields.get("port");
      if (ip === undefined || port === undefined) return;
      this.#answers[index] = {
        at: Date.now(),
        master: this.natMap(`${ip}:${port}`),
        epoch: Number(fields.get("config-epoch") ?? 0),
        replicas: Number(fields.get("num-slaves") ?? 0),
      };
    } catch (error) {
      // No answer in time: a partition drops packets without a word, and TCP would keep this
      // socket waiting for many seconds after the heal. A fresh connection asks next time.
      if (error instanceof Error && error.message === "Command timed out") {
        connection.stream.destroy();
      }
    }
  }

  /** The `ip:port`s a master named by host name stands for. */
  #resolve(master: string): Promise<Set<string>> {
    const cached = this.#addresses.get(master);
    if (cached !== undefined && Date.now() - cached.at < LOOKUP_MS) return cached.addresses;
    const at = master.lastIndexOf(":");
    const host = master.slice(0, at);
    const port = master.slice(at + 1);
    const addresses =
      isIP(host) !== 0
        ? Promise.resolve(new Set([master]))
        : lookup(host, { all: true }).then(
            (found) => new Set(found.map(({ address }) => `${address}:${port}`)),
            () => new Set<string>(),
          );
    this.#addresses.set(master, { at: Date.now(), addresses });
    return addresses;
  }
}
