import { connect } from "node:net";
import { replicaLines } from "../replicaLines.js";

/** How long what the master said of its replicas is used before it is asked again. */
const VIEW_MS = 1_000;
/** A replica that neither accepts nor refuses a connection within this is not taken as dead. */
const PROBE_MS = 250;

/**
 * What one master says of its replicas (`INFO replication`), as `host:port` after the
 * topology's address map, and which replicas that could be promoted are known to be dead.
 *
 * A write waits for the union of the replicas the master has online and the replicas that could
 * be promoted in its place ({@link required}), less those that cannot have it: replicas in a
 * full resync, and replicas whose port refuses connections (a dead process). A promotable
 * replica the master does not list but that is alive — the one a planned failover has just
 * promoted — is still waited for, so the old master acknowledges nothing more.
 */
export class MasterView {
  online = new Set<string>();
  syncing = new Set<string>();
  readonly #dead = new Set<string>();
  #at = -Infinity;
  #epoch = -1;

  constructor(private readonly map: (address: string) => string) {}

  /** Whether the master should be asked again (before the next batch's WAIT, in its pipeline). */
  stale(epoch: number): boolean {
    this.#forget(epoch);
    return performance.now() - this.#at > VIEW_MS;
  }

  /** Takes in the master's `INFO replication` answer. */
  read(info: string, epoch: number): void {
    this.#forget(epoch);
    const online = new Set<string>();
    const syncing = new Set<string>();
    for (const fields of replicaLines(info)) {
      const address = this.map(`${fields.get("ip") ?? ""}:${fields.get("port") ?? ""}`);
      (fields.get("state") === "online" ? online : syncing).add(address);
      this.#dead.delete(address);
    }
    this.online = online;
    this.syncing = syncing;
    this.#at = performance.now();
  }

  /**
   * Looks at each replica in `promotable` the master does not list: one whose port refuses a
   * connection is dead (a process gone), and is not waited for until the master lists it again.
   */
  async probe(promotable: ReadonlySet<string>): Promise<void> {
    const absent = [...promotable].filter(
      (address) => !this.online.has(address) && !this.syncing.has(address),
    );
    await Promise.all(
      absent.map(async (address) => {
        if (await refuses(address)) this.#dead.add(address);
        else this.#dead.delete(address);
      }),
    );
  }

  /**
   * How many replicas a write must reach: every replica the master has online, and every
   * replica that could be promoted unless it is resyncing or dead.
   */
  required(promotable: ReadonlySet<string>): number {
    let required = this.online.size;
    for (const address of promotable) {
      if (this.online.has(address) || this.syncing.has(address) || this.#dead.has(address)) {
        continue;
      }
      required++;
    }
    return required;
  }

  /** Whether `address` was found dead (its port refused a connection) and not listed since. */
  dead(address: string): boolean {
    return this.#dead.has(address);
  }

  /** A new connection may be on a new master: what the old one said no longer holds. */
  #forget(epoch: number): void {
    if (epoch === this.#epoch) return;
    this.#epoch = epoch;
    this.online = new Set();
    this.syncing = new Set();
    this.#dead.clear();
    this.#at = -Infinity;
  }
}

/** Whether `host:port` refuses a TCP connection (nothing listens there) within PROBE_MS. */
function refuses(address: string): Promise<boolean> {
  const at = address.lastIndexOf(":");
  return new Promise((resolve) => {
    const socket = connect({ host: address.slice(0, at), port: Number(address.slice(at + 1)) });
    const done = (refused: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(refused);
    };
    const timer = setTimeout(() => done(false), PROBE_MS);
    socket.once("connect", () => done(false));
    socket.once("error", (error: NodeJS.ErrnoException) => done(error.code === "ECONNREFUSED"));
  });
}
