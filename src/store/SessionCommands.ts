import type { Cluster, Redis } from "ioredis";
import { SessionNotDurableError } from "../errors/SessionNotDurableError.js";
import type { NormalizedStoreOptions } from "../options.js";
import { ConnectionMonitor } from "./ConnectionMonitor.js";
import type { ConnectionEvents } from "./ConnectionMonitor.js";
import { RetryableError, withinDeadline } from "./deadline.js";
import { defineScripts } from "./scripts.js";
import type { ReadReply, SessionScripts, WriteArgs, WriteMode } from "./scripts.js";

const REPLY_MARGIN_MS = 100;

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

  constructor(
    readonly client: Redis | Cluster,
    private readonly options: NormalizedStoreOptions,
    events: ConnectionEvents,
  ) {
    this.#scripts = defineScripts(client);
    this.indexPrefix = client.isCluster ? "" : `${options.prefix}user:`;
    this.monitor = new ConnectionMonitor(client, options.waitMs, events);
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
        return (await this.#scripts.rhsWriteSession(...args)) === 1;
      });
    }
    return this.#bounded("session write", async (deadline) => {
      const epoch = this.monitor.epoch;
      // The write and its WAIT travel together: WAIT counts the replicas that have every write
      // sent before it on this connection.
      const pipeline = (this.client.pipeline() as unknown as ScriptPipeline)
        .rhsWriteSession(...args)
        .wait(replicas, this.options.durability.timeoutMs);
      const [written, confirmed] = pipelineReplies(await pipeline.exec());
      await this.#awaitReplicas(Number(confirmed), epoch, deadline);
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

  stop(): void {
    this.monitor.stop();
  }

  /**
   * Repeats WAIT until `replicas` confirm. A reconnection in between means the WAIT may have gone
   * to a new master that never saw the write, so the whole write is redone.
   */
  async #awaitReplicas(confirmed: number, epoch: number, deadline: number): Promise<void> {
    const { replicas, timeoutMs } = this.options.durability;
    let count = confirmed;
    for (;;) {
      if (this.monitor.epoch !== epoch) {
        throw new RetryableError("connection changed between the write and its WAIT");
      }
      if (count >= replicas) return;
      // Stop short of the deadline, so the answer is "not durable" rather than "no answer".
      const remaining = deadline - REPLY_MARGIN_MS - Date.now();
      if (remaining <= 0) throw new SessionNotDurableError(count, replicas);
      count = await this.client.wait(replicas, Math.min(timeoutMs, remaining));
    }
  }

  #bounded<T>(what: string, attempt: (deadline: number) => Promise<T>): Promise<T> {
    return withinDeadline(what, this.options.waitMs, attempt);
  }
}

/** The replies of a pipeline, throwing the first error in it. */
function pipelineReplies(results: [Error | null, unknown][] | null): unknown[] {
  if (results === null) throw new RetryableError("pipeline was discarded");
  return results.map(([error, reply]) => {
    if (error) throw error;
    return reply;
  });
}
