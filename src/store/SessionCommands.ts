import { setTimeout as delay } from "node:timers/promises";
import type { Cluster, Redis } from "ioredis";
import { SessionNotDurableError } from "../errors/SessionNotDurableError.js";
import type { NormalizedStoreOptions } from "../options.js";
import { prepareClient } from "../redis/createRedisClient.js";
import { ConnectionMonitor } from "./ConnectionMonitor.js";
import type { ConnectionEvents } from "./ConnectionMonitor.js";
import { RetryableError, withinDeadline } from "./deadline.js";
import { defineScripts } from "./scripts.js";
import type { ReadReply, SessionScripts, WriteArgs, WriteMode } from "./scripts.js";

const REPLY_MARGIN_MS = 100;
/** How often an unconfirmed write looks again at its replicas. */
const RECHECK_MS = 100;

/** The script commands as they are queued on a pipeline. */
interface ScriptPipeline {
  rhsWriteSession(key: string, ...args: WriteArgs): ScriptPipeline;
  wait(replicas: number, timeoutMs: number): ScriptPipeline;
  exec(): Promise<[Error | null, unknown][] | null>;
}

/**
 * The Redis commands of the store, each bounded by `unavailable.waitMs` and retried through
 * failovers; writes are confirmed by `durability.replicas` replicas before they resolve.
 */
export class SessionCommands {
  readonly monitor: ConnectionMonitor;
  /**
   * Prefix of the per-user index keys, or "" on a Cluster, where a script may not touch keys of
   * other slots and the index is not kept.
   */
  readonly indexPrefix: string;
  readonly #scripts: SessionScripts;
  /**
   * Durable writes go over a connection of their own: a WAIT blocks its connection while replicas
   * catch up, and reads must not queue behind it.
   */
  readonly #writer: Redis | undefined;
  readonly #writerScripts: SessionScripts;
  /** Counts the writer's (re)connections, to tell whether a write and its WAIT met one master. */
  #writerEpoch = 0;

  constructor(
    readonly client: Redis | Cluster,
    private readonly options: NormalizedStoreOptions,
    events: ConnectionEvents,
  ) {
    this.#scripts = defineScripts(client);
    this.indexPrefix = client.isCluster ? "" : `${options.prefix}user:`;
    this.monitor = new ConnectionMonitor(client, options.waitMs, events);
    if (options.durability.replicas > 0 && !client.isCluster) {
      const writer = prepareClient((client as Redis).duplicate());
      writer.on("ready", () => this.#writerEpoch++);
      this.#writer = writer;
      this.#writerScripts = defineScripts(writer);
    } else {
      this.#writerScripts = this.#scripts;
    }
  }

  /** Reads a session and renews its TTL (see the read script for `ttlMs`). */
  read(key: string, ttlMs: number, defaultTtlMs: number): Promise<ReadReply> {
    return this.#bounded("session read", () =>
      this.#scripts.rhsReadSession(key, ttlMs, defaultTtlMs, this.indexPrefix),
    );
  }

  /**
   * Applies a write and, if durability asks for it, waits until enough replicas have it.
   * @returns whether it was written (false: the session was destroyed meanwhile)
   * @throws SessionNotDurableError when replicas did not confirm within the wait bound
   */
  write(
    sid: string,
    mode: WriteMode,
    ttlMs: number,
    { changed, removed, uid = "" }: { changed: string[]; removed: string[]; uid?: string },
  ): Promise<boolean> {
    const key = this.options.prefix + sid;
    const pairs = changed.length / 2;
    const rest: WriteArgs = [mode, ttlMs, this.indexPrefix, sid, uid, Date.now(), pairs];
    const args = [key, ...rest, ...changed, ...removed] as const;
    const { replicas } = this.options.durability;
    if (replicas === 0) {
      return this.#bounded("session write", async () => {
        return (await this.#writerScripts.rhsWriteSession(...args)) === 1;
      });
    }
    const writer = this.#writer;
    if (writer === undefined) throw new Error("durable writes need the writer connection");
    return this.#bounded("session write", async (deadline) => {
      const epoch = this.#writerEpoch;
      // The write and its WAIT travel together: WAIT counts the replicas that have every write
      // sent before it on this connection.
      const pipeline = (writer.pipeline() as unknown as ScriptPipeline)
        .rhsWriteSession(...args)
        .wait(replicas, this.options.durability.timeoutMs);
      const [written, confirmed] = pipelineReplies(await pipeline.exec());
      await this.#awaitReplicas(writer, Number(confirmed), epoch, deadline);
      return written === 1;
    });
  }

  /** Deletes a session and takes it out of its user's index. */
  destroy(sid: string): Promise<void> {
    return this.#bounded("session delete", async () => {
      await this.#scripts.rhsDestroySession(this.options.prefix + sid, this.indexPrefix, sid);
    });
  }

  /** Deletes every session in a user's index, and the index; returns how many it listed. */
  destroyUser(uid: string): Promise<number> {
    return this.#bounded("logout everywhere", () =>
      this.#scripts.rhsDestroyUser(this.indexPrefix + uid, this.options.prefix),
    );
  }

  /** Deletes keys (one command each: in a Cluster they may sit in different slots). */
  delete(...keys: string[]): Promise<void> {
    return this.#bounded("session delete", async () => {
      await Promise.all(keys.map((key) => this.client.unlink(key)));
    });
  }

  /** Sets a key's TTL; does nothing for a missing key. */
  expire(key: string, ttlMs: number): Promise<void> {
    return this.#bounded("session touch", async () => {
      await this.client.pexpire(key, ttlMs);
    });
  }

  /** Stops watching the client and closes the writer connection. */
  async close(): Promise<void> {
    this.monitor.stop();
    await this.#writer?.quit();
  }

  /**
   * Repeats WAIT until `replicas` confirm. A reconnection in between means the WAIT may have gone
   * to a new master that never saw the write, so the whole write is redone.
   */
  async #awaitReplicas(
    writer: Redis,
    confirmed: number,
    epoch: number,
    deadline: number,
  ): Promise<void> {
    const { replicas, timeoutMs } = this.options.durability;
    let count = confirmed;
    for (;;) {
      if (this.#writerEpoch !== epoch) {
        throw new RetryableError("connection changed between the write and its WAIT");
      }
      if (count >= replicas) return;
      // Stop short of the deadline, so the answer is "not durable" rather than "no answer".
      const remaining = deadline - REPLY_MARGIN_MS - Date.now();
      if (remaining <= 0) throw new SessionNotDurableError(count, replicas);
      // While too few replicas are even connected (one re-attaching after a failover), a WAIT
      // would only hold the connection, and every write queued behind it, for nothing.
      if ((await connectedReplicas(writer)) < replicas) {
        await delay(Math.min(RECHECK_MS, remaining));
        continue;
      }
      count = await writer.wait(replicas, Math.min(timeoutMs, RECHECK_MS, remaining));
    }
  }

  #bounded<T>(what: string, attempt: (deadline: number) => Promise<T>): Promise<T> {
    return withinDeadline(what, this.options.waitMs, attempt);
  }
}

/** Replicas connected to the master, from ROLE (which does not block). */
async function connectedReplicas(client: Redis): Promise<number> {
  const role = (await client.call("ROLE")) as [string, number, unknown[]?];
  return role[0] === "master" ? (role[2]?.length ?? 0) : 0;
}

/** The replies of a pipeline, throwing the first error in it. */
function pipelineReplies(results: [Error | null, unknown][] | null): unknown[] {
  if (results === null) throw new RetryableError("pipeline was discarded");
  return results.map(([error, reply]) => {
    if (error) throw error;
    return reply;
  });
}
