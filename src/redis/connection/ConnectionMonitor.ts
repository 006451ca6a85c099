import type { Cluster, Redis } from "ioredis";
import { debugFor } from "../debug.js";
import { isConfigurationError } from "./replies.js";
import type { ConnectionState } from "./deadline.js";
import type { Notices } from "./Notices.js";
import type { Backend } from "../backend/Backend.js";
import { OutageWatch } from "./OutageWatch.js";
import type { ConnectionEvents } from "./OutageWatch.js";

const log = debugFor("store");

export { OutageWatch };
export type { ConnectionEvents, FailoverEvent } from "./OutageWatch.js";

/** How ioredis reports a `SELECT` that failed on connecting (the client goes on in database 0). */
const NO_SUCH_DATABASE = "DB index is out of range";

/** Whether an error says the database the client asked for does not exist. */
export function isNoSuchDatabase(error: unknown): boolean {
  return error instanceof Error && error.message.includes(NO_SUCH_DATABASE);
}

/**
 * Watches a client's connection for everyone sharing it: counts connections (so a write and its
 * WAIT can be checked to have met the same master) and notices master changes — on a Cluster, a
 * shard's, from the slot map each refresh brings (a master gone, one of its replicas a master
 * now; slots moved between masters are no failover). Each user watches
 * for outages with its own bound (`watch`): a failover the client rides through within it is no
 * event, a longer outage is `disconnect`, then `connect`.
 *
 * It also tells the connection's users and its operator what is wrong with it: the last error
 * (for a wait that failed), Redis unreachable before it ever answered, a configuration Redis
 * refuses (credentials, ACL rules, a database that does not exist) — each said once through
 * `notices`, without `DEBUG`.
 */
export class ConnectionMonitor implements ConnectionState {
  /** Incremented on every (re)connection. */
  epoch = 0;
  /** `host:port` of the master the client is connected to, when known. */
  master: string | undefined;
  lastFailoverAt: Date | undefined;
  /** Master changes followed so far (a read spanning one may come from the replaced master). */
  failovers = 0;
  readonly #watches = new Set<OutageWatch>();
  /** A Cluster's masters and their replicas, as of the last slot map. */
  #shards = new Map<string, Set<string>>();
  /** The last error of the connection since it was last ready. */
  lastError: Error | undefined;
  /** Set for good when Redis refuses the connection's configuration (see ConnectionState). */
  refusal: Error | undefined;
  /** Whether the client has been ready once. */
  #everReady = false;
  /** Those waiting for the client's handshake (see {@link handshaken}). */
  readonly #handshakes = new Set<(error?: Error) => void>();

  readonly #backend: Backend;
  private readonly client: Redis | Cluster;

  constructor(
    /** The client's topology's backend: the client, its kind, its master's address. */
    backend: Backend,
    /** Where the client connects (`redis://host:port/db`, a Sentinel group…), for notices. */
    readonly where: string,
    readonly notices: Notices,
  ) {
    this.#backend = backend;
    const client = backend.client;
    this.client = client;
    client.on("ready", this.#onReady);
    client.on("close", this.#onLost);
    client.on("end", this.#onLost);
    client.on("error", this.#onError);
    if (client.status === "ready") this.#onReady();
    if (backend.kind === "cluster") client.on("refresh", this.#onRefresh);
  }

  /** A command failed because of the connection's configuration: said once. */
  misconfigured(error: Error): void {
    this.notices.once(
      `Redis at ${this.where} refuses this connection's configuration: ${error.message} — ` +
        "check the credentials (and ACL rules) given in `redis`; session requests answer 503 " +
        "and cache calls go to the loader meanwhile",
      `misconfigured:${error.message.split(" ")[0] ?? ""}`,
    );
  }

  /**
   * Resolves once the client has finished its handshake (AUTH, SELECT: it is ready), at once if it
   * has; rejects when Redis refuses the connection's configuration (WRONGPASS, a database that
   * does not exist: at once if the last attempt failed so) or the client is closed. Other errors
   * are retried by the client: the wait goes on, and is given up at `deadline`. A command sent
   * before this could be answered as another user: ioredis writes INFO during the handshake,
   * right behind an AUTH that fails, and the server answers it as the default user.
   */
  handshaken(deadline: number): Promise<void> {
    if (this.refusal !== undefined) return Promise.reject(this.refusal);
    const { status } = this.client;
    // Not connecting (lazyConnect, or closed): a command queues, or fails, without the race.
    if (status === "ready" || status === "wait" || status === "end") return Promise.resolve();
    const { lastError } = this;
    if (lastError !== undefined && isConfigurationError(lastError))
      return Promise.reject(lastError);
    return new Promise((resolve, reject) => {
      const settle = (error?: Error) => {
        clearTimeout(timer);
        if (error === undefined) resolve();
        else reject(error);
      };
      // Past the deadline the caller has given up: nothing keeps the wait.
      const timer = setTimeout(
        () => this.#handshakes.delete(settle),
        Math.max(0, deadline - Date.now()),
      ).unref();
      this.#handshakes.add(settle);
    });
  }

  /** Settles the waits for the handshake: without an error once ready. */
  #handshakeDone(error?: Error): void {
    for (const settle of this.#handshakes) settle(error);
    this.#handshakes.clear();
  }

  readonly #onError = (error: Error): void => {
    this.lastError = error;
    if (isNoSuchDatabase(error)) {
      this.#noSuchDatabase(error);
    } else if (isConfigurationError(error)) {
      this.misconfigured(error);
    } else if (!this.#everReady) {
      this.notices.once(
        `cannot reach Redis at ${this.where}: ${error.message} — retrying; until it answers, ` +
          "session requests answer 503 after `unavailable.waitMs` and cache calls go to the loader",
        "unreachable",
      );
    }
    if (this.refusal !== undefined || isConfigurationError(error)) {
      this.#handshakeDone(this.refusal ?? error);
    }
  };

  /**
   * The database asked for does not exist: ioredis would carry on in database 0, so the
   * connection is refused for good (the library's own clients are closed, see createRedisClient)
   * and said once, with the server's number of databases when it tells it.
   */
  #noSuchDatabase(error: Error): void {
    if (this.refusal !== undefined) return;
    const db = (this.client.options as { db?: number }).db ?? 0;
    const refuse = (limit: string) => {
      this.refusal = new Error(
        `database ${db} (asked for by \`redis\`: ${this.where}) does not exist on the server` +
          `${limit} (${error.message})`,
      );
    };
    refuse("");
    void databasesOf(this.#backend).then((count) => {
      if (count !== undefined) refuse(`, which has ${count} (0 to ${count - 1})`);
      this.notices.once(
        `${this.refusal?.message ?? ""}: every session and cache operation on it fails — ` +
          "give a database number the server has",
        "no-such-database",
      );
    });
  }

  /** Reports outages longer than `waitMs`, and failovers, to `events` until `stop`ped. */
  watch(waitMs: number, events: ConnectionEvents): OutageWatch {
    const watch = new OutageWatch(this.client, waitMs, events, () => this.#watches.delete(watch));
    this.#watches.add(watch);
    if (this.client.status !== "ready") watch.lost();
    return watch;
  }

  stop(): void {
    for (const watch of this.#watches) watch.stop();
    this.client.off("ready", this.#onReady);
    this.client.off("close", this.#onLost);
    this.client.off("end", this.#onLost);
    this.client.off("error", this.#onError);
    this.client.off("refresh", this.#onRefresh);
  }

  readonly #onReady = (): void => {
    this.epoch++;
    this.lastError = undefined;
    this.#everReady = true;
    this.#handshakeDone();
    if (this.notices.said("unreachable")) {
      this.notices.cleared("unreachable");
      this.notices.once(`Redis at ${this.where} answers now`, "reachable");
    }
    for (const watch of this.#watches) watch.ready();
    const address = this.#backend.masterAddress();
    if (address === undefined) return;
    if (this.master !== undefined && this.master !== address)
      this.#failedOver(this.master, address);
    this.master = address;
  };

  readonly #onRefresh = (): void => {
    const shards = new Map<string, Set<string>>();
    for (const [master, ...replicas] of (this.client as Cluster).slots) {
      if (master === undefined) continue;
      let known = shards.get(master);
      if (known === undefined) shards.set(master, (known = new Set()));
      for (const replica of replicas) known.add(replica);
    }
    for (const [previous, replicas] of this.#shards) {
      if (shards.has(previous)) continue;
      const promoted = [...replicas].find((replica) => shards.has(replica));
      // A master gone without a replica promoted yet is kept until one is.
      if (promoted === undefined) shards.set(previous, replicas);
      else this.#failedOver(previous, promoted);
    }
    this.#shards = shards;
  };

  #failedOver(from: string, to: string): void {
    const event = { from, to, at: new Date() };
    this.lastFailoverAt = event.at;
    this.failovers++;
    log("failover seen: master moved from %s to %s", from, to);
    for (const watch of this.#watches) watch.events.failover(event);
  }

  readonly #onLost = (): void => {
    for (const watch of this.#watches) watch.lost();
    if (this.client.status === "end") this.#handshakeDone(new Error("Connection is closed."));
  };
}

/**
 * The number of databases of the server `client` connects to (`CONFIG GET databases`, asked on a
 * connection of its own to database 0), or undefined if it does not say within a second (ACL
 * rules may forbid CONFIG).
 */
async function databasesOf({ kind, client }: Backend): Promise<number | undefined> {
  if (kind === "cluster") return undefined;
  const probe = (client as Redis).duplicate({
    db: 0,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1_000,
    commandTimeout: 1_000,
  });
  probe.on("error", () => undefined);
  try {
    const [, count] = (await probe.config("GET", "databases")) as [string, string];
    return Number(count) || undefined;
  } catch {
    return undefined;
  } finally {
    probe.disconnect();
  }
}
