import type { Cluster, Redis } from "ioredis";
import type { Backend } from "./backend/Backend.js";
import type { BoundStep } from "./backend/scan.js";
import { Budget } from "./connection/Budget.js";
import type { ConnectionEvents, OutageWatch } from "./connection/ConnectionMonitor.js";
import type { CommandArgs } from "./connection/CorkedCommands.js";
import { withinDeadline } from "./connection/deadline.js";
import type { WaitContext } from "./connection/deadline.js";
import { CorruptKeys } from "./connection/CorruptKeys.js";
import { replyIs } from "./connection/replies.js";
import { replicationHealth } from "./health.js";
import type { HealthFacts } from "./health.js";
import type { Logger, NormalizedDurability } from "./options/options.js";
import type { ParsedTopology } from "./options/ParsedTopology.js";
import { RedisConnection } from "./RedisConnection.js";
import type { ReplicaRouter } from "./replicas/ReplicaRouter.js";
import { runScript, type Script } from "./scripts.js";
import type { Vouched } from "./sentinel/ReadFence.js";
import { StoreCounters } from "./stats.js";
import type { BatchScript, WriteArguments } from "./writes/batchCalls.js";
import { Writes } from "./writes/Writes.js";
import { durabilityChanged } from "./writes/durabilityChanged.js";
import type { WriteResult } from "./writes/Writes.js";

export { Budget } from "./connection/Budget.js";
export type { ConnectionEvents, FailoverEvent } from "./connection/ConnectionMonitor.js";
export type { BoundStep } from "./backend/scan.js";
export type { BatchScript, WriteArguments } from "./writes/batchCalls.js";
export type { Vouched } from "./sentinel/ReadFence.js";
export type { WriteResult } from "./writes/Writes.js";
export type { DurabilityChange } from "./writes/ReplicaRule.js";

/** A wait bound, and what set it. */
interface Bound {
  waitMs: number;
  context: WaitContext;
}

/** What a user of a connection set asks of its keyspace. */
export interface KeyspaceSettings {
  /** What the user's data is called in messages: "session", "cache". */
  name: string;
  /** The `debug` namespace its reports go to (`redis-ha-session:<log>`). */
  log: string;
  /** The bound of an operation's Redis commands together (`unavailable.waitMs`). */
  waitMs: number;
  /** The bound of a write, and the option that sets it; `waitMs`'s when undefined. */
  changes?: { waitMs: number; option: string } | undefined;
  durability: NormalizedDurability;
  /** The user's write script, which takes a batch and refuses a write past its deadline. */
  writeScript: BatchScript;
  /** `readFrom: "replica"`: reads may be served by replicas; writes carry causal tokens. */
  replicaReads?: boolean | undefined;
  /** The user's reactions to a lasting outage and to failovers. */
  events: ConnectionEvents;
  /** What the user's writes do while too few replicas are in sync, as the notice says. */
  unconfirmable: string;
  /** Where the user's notices go besides (see Notices). */
  logger?: Logger | undefined;
}

/**
 * One user's face of a shared connection set (a session store's, a cache's): every command it
 * sends goes through here, within its wait budget and retried through failovers; its writes are
 * stamped with their deadline on the server's clock and, as `durability` says, confirmed by
 * replicas on the writer connections; deletes reach every replica that serves reads; keys that
 * hold something else are reported once; what it did is counted in `counters`. The user frames
 * only its own scripts' arguments. Closing it leaves the connection set.
 */
export class Keyspace {
  readonly backend: Backend;
  readonly client: Redis | Cluster;
  /** Whether Redis is reachable, by this user's wait bound. */
  readonly outages: OutageWatch;
  /** What the user's `stats()` reports of Redis: 503s, retries, failovers, batches, WAIT time. */
  readonly counters: StoreCounters;
  /**
   * Replicas a write must reach: `durability.replicas`, or for "all" what Sentinel lists
   * (undefined until a Sentinel has answered).
   */
  readonly requiredReplicas: () => number | undefined;
  readonly #connection: RedisConnection;
  readonly #writes: Writes;
  readonly #replicas: ReplicaRouter | undefined;
  /** The bounds of reads (and of a request's commands together), and of a write. */
  readonly #reads: Bound;
  readonly #changes: Bound;
  readonly #corrupt: CorruptKeys;
  readonly #logger: Logger | undefined;
  #closed: Promise<void> | undefined;

  /** The keyspace of `settings` on the connection set of `topology` (shared when it exists). */
  static open(topology: ParsedTopology, settings: KeyspaceSettings): Keyspace {
    const connection = RedisConnection.acquire(topology, settings.logger);
    try {
      return new Keyspace(connection, topology.kind, settings);
    } catch (error) {
      void connection.release(settings.logger);
      throw error;
    }
  }

  private constructor(
    connection: RedisConnection,
    /** How the user gave its topology, as health reports name it. */
    readonly topology: ParsedTopology["kind"],
    settings: KeyspaceSettings,
  ) {
    this.counters = new StoreCounters(settings.name);
    const { backend } = connection;
    const { durability, events } = settings;
    this.#corrupt = new CorruptKeys(settings.name, settings.log, this.counters);
    this.#connection = connection;
    this.#logger = settings.logger;
    this.backend = backend;
    this.client = backend.client;
    const counters = this.counters;
    // First what may throw (a durability the topology cannot give): nothing to undo then.
    this.#writes = new Writes(connection, settings.writeScript, durability, {
      offsets: settings.replicaReads === true,
      counters,
      unconfirmable: settings.unconfirmable,
      onDurability: (change) => {
        // Each writer connection to a master reports on its own: one event per master's change.
        if (durabilityChanged(change, counters, connection.notices)) events.durability?.(change);
      },
    });
    this.outages = connection.monitor.watch(settings.waitMs, {
      ...events,
      failover: (event) => {
        counters.failovers++;
        events.failover(event);
      },
    });
    const onRetry = () => counters.retries++;
    const bound = ({ waitMs, option }: { waitMs: number; option: string }): Bound => ({
      waitMs,
      context: { setBy: `option \`${option}\``, connection: connection.monitor, onRetry },
    });
    this.#reads = bound({ waitMs: settings.waitMs, option: "unavailable.waitMs" });
    this.#changes = settings.changes === undefined ? this.#reads : bound(settings.changes);
    this.requiredReplicas = this.#writes.requiredReplicas;
    // Replica reads need writes confirmed by replicas: their offsets are the causal tokens.
    if (settings.replicaReads === true) this.#replicas = backend.openReplicaReads();
  }

  /** The master the client follows (`host:port`) and when it last changed. */
  get connection(): { master: string | undefined; lastFailoverAt: Date | undefined } {
    const { master, lastFailoverAt } = this.#connection.monitor;
    return { master, lastFailoverAt };
  }

  /** A fresh budget of `unavailable.waitMs` for one request's or call's commands together. */
  budget(of = "request", { waitMs, context }: Bound = this.#reads): Budget {
    return new Budget(waitMs, waitMs, context, of);
  }

  /** Now on the server's clock, as last measured. */
  serverNow(): number {
    return this.#connection.clock.toServer(Date.now());
  }

  /**
   * Runs `attempt` (given its deadline) until it succeeds, retrying what a failover causes,
   * within what `budget` has left, which it spends; a failure is counted.
   * @throws RedisUnavailableError past the budget
   */
  bounded<T>(
    what: string,
    attempt: (deadline: number) => Promise<T>,
    budget: Budget = this.budget(),
  ): Promise<T> {
    const started = Date.now();
    const { counters } = this;
    const result = withinDeadline(
      budget.label(what),
      Math.max(1, budget.remainingMs),
      budget.context,
      attempt,
    );
    // Charged and counted beside the caller's chain, not in it: no extra step on every command.
    const charge = () => budget.charge(Date.now() - started);
    result.then(charge, (error: unknown) => {
      charge();
      counters.count(error);
    });
    return result;
  }

  /** One command (corked on a node, routed by key on a Cluster), for a caller's `bounded`. */
  send(command: string, args: CommandArgs): Promise<unknown> {
    return this.backend.send(command, args);
  }

  /**
   * A read command of `key`, its reply taken by `take`; a key of another type (WRONGTYPE) is
   * `otherType(key)`'s answer instead (`absent`: none, reported as corrupt).
   */
  read<T>(
    command: string,
    key: string,
    take: (reply: unknown) => T | PromiseLike<T>,
    otherType: (key: string) => T | PromiseLike<T>,
  ): Promise<T> {
    return this.backend.send(command, [key]).then(take, (error: unknown) => {
      if (replyIs(error, "WRONGTYPE")) return otherType(key);
      throw error;
    });
  }

  /** A key of another type than its user writes, read as none: reported once as corrupt. */
  readonly absent = (key: string): null => {
    this.reportCorrupt(key, "a Redis value of another type");
    return null;
  };

  /** A read served by a replica that has what `token` says the reader wrote, if one may. */
  replicaFor(
    token: number,
    key: string,
  ): { send(command: string, args: CommandArgs): Promise<unknown> } | undefined {
    return this.#replicas?.pick(token, key);
  }

  /** Runs one of the user's scripts, for a caller's `bounded`. */
  runScript(
    script: Script,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    return this.backend.runScript(script, keys, args);
  }

  /** Master changes the client has followed so far: a read notes it when sent (see vouch). */
  get failovers(): number {
    return this.#connection.monitor.failovers;
  }

  /** The reply; vouched if a Sentinel majority names its master and no failover came `since`. */
  vouch<T>(reply: T, since: number): Vouched<T> | Promise<Vouched<T>> {
    return this.#writes.fence.vouch(reply, this.failovers !== since);
  }

  /**
   * A write through the user's write script: `args` framed for it, the argument at its
   * `deadlineArg` stamped here with the deadline on the server's clock; confirmed by replicas as
   * `durability` says, within the budget (by default, a change's). A write that reached Redis
   * after its deadline is sent again within the budget (-1); one refused because what it was
   * based on was read from a master no Sentinel majority named fails (-2).
   * @throws NotDurableError when replicas did not confirm in time
   */
  write(key: string, args: WriteArguments, what: string, budget?: Budget): Promise<WriteResult> {
    const writes = this.#writes;
    const attempt = (deadline: number) => writes.send(key, args, deadline, what);
    return this.bounded(what, attempt, budget ?? this.budget("call", this.#changes));
  }

  /** A deleting script (for `bounded`); with replica reads, no replica serves what it deleted. */
  deleteEverywhere(script: Script, keys: string[], args: (string | number)[]): Promise<unknown> {
    const replicas = this.#replicas;
    if (replicas === undefined) return this.backend.runScript(script, keys, args);
    return replicas.confirmedByAll(
      (master) => runScript(master, script, keys, args),
      keys[0] ?? "",
    );
  }

  /** Every key matching `pattern`, in batches over every master, each step within `bound`. */
  scan(pattern: string, bound: BoundStep): AsyncGenerator<string[]> {
    return this.backend.scan(pattern, bound);
  }

  /** Reports a key holding what its user did not write (counted; logged once, by its hash). */
  reportCorrupt(key: string, why: string): void {
    this.#corrupt.report(key, why);
  }

  /** The health facts of the connection, asked of the master within `timeoutMs`. */
  async health(timeoutMs: number): Promise<HealthFacts> {
    const health = await replicationHealth(this.backend, timeoutMs, this.#connection.monitor);
    return {
      ...health,
      ...this.connection,
      topology: this.topology,
      requiredReplicas: this.requiredReplicas(),
      degraded: [...this.counters.degraded],
    };
  }

  /** Stops watching and writing, and leaves the connection set (the last user closes it). */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.outages.stop();
      this.#writes.close();
      this.#replicas?.close();
      await this.#connection.release(this.#logger);
    })();
    return this.#closed;
  }
}
