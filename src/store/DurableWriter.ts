import { setTimeout as delay } from "node:timers/promises";
import type { Redis } from "ioredis";
import { SessionNotDurableError } from "../errors/SessionNotDurableError.js";
import { prepareClient } from "../redis/createRedisClient.js";
import { RetryableError } from "./deadline.js";
import { defineScripts } from "./scripts.js";
import type { WriteArgs } from "./scripts.js";

const REPLY_MARGIN_MS = 100;
/** How often an unconfirmed write looks again at its replicas. */
const RECHECK_MS = 100;

/** The script commands as they are queued on a pipeline. */
interface ScriptPipeline {
  rhsWriteSession(key: string, ...args: WriteArgs): ScriptPipeline;
  wait(replicas: number, timeoutMs: number): ScriptPipeline;
  exec(): Promise<[Error | null, unknown][] | null>;
}

type WriteCall = readonly [key: string, ...args: WriteArgs];

interface Queued {
  call: WriteCall;
  deadline: number;
  resolve: (reply: BatchReply) => void;
  reject: (error: Error) => void;
}

/** What one write of a batch got back. */
interface BatchReply {
  written: unknown;
  /** Replicas the batch's WAIT counted. */
  confirmed: number;
  /** The connection's epoch when the batch was sent. */
  epoch: number;
}

/**
 * Session writes that are confirmed by `replicas` replicas before they resolve, over a connection
 * of their own: a WAIT blocks its connection until replicas answer, and reads must not queue
 * behind it.
 *
 * Writes are committed in groups. WAIT counts the replicas that have every write sent before it
 * on its connection, so the writes that arrive while a batch is in flight go out together in the
 * next pipeline, followed by one WAIT for all of them. One WAIT per write would make every write
 * wait for the replication round trips of all the writes queued before it.
 */
export class DurableWriter {
  readonly #connection: Redis;
  /** Counts (re)connections, to tell whether a write and its WAIT met one master. */
  #epoch = 0;
  #queue: Queued[] = [];
  #sending = false;

  constructor(
    client: Redis,
    private readonly replicas: number,
    private readonly timeoutMs: number,
  ) {
    this.#connection = prepareClient(client.duplicate());
    this.#connection.on("ready", () => this.#epoch++);
    defineScripts(this.#connection);
  }

  /**
   * Writes and waits until `replicas` replicas have the write.
   * @returns the write script's reply
   * @throws SessionNotDurableError when they do not confirm before `deadline`
   * @throws RetryableError when the connection changed between the write and its confirmation
   */
  async write(call: WriteCall, deadline: number): Promise<unknown> {
    const { written, confirmed, epoch } = await new Promise<BatchReply>((resolve, reject) => {
      this.#queue.push({ call, deadline, resolve, reject });
      if (!this.#sending) {
        // After this turn of the event loop: the writes of requests it handles go out together.
        this.#sending = true;
        setImmediate(() => void this.#send());
      }
    });
    await this.#awaitReplicas(confirmed, epoch, deadline);
    return written;
  }

  async close(): Promise<void> {
    await this.#connection.quit();
  }

  /** Sends the queued writes and one WAIT, batch after batch, until the queue is empty. */
  async #send(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#unexpired(this.#queue.splice(0));
      if (batch.length === 0) continue;
      const epoch = this.#epoch;
      const pipeline = this.#connection.pipeline() as unknown as ScriptPipeline;
      for (const { call } of batch) pipeline.rhsWriteSession(...call);
      pipeline.wait(this.replicas, this.timeoutMs);
      try {
        const results = await pipeline.exec();
        if (results === null) throw new RetryableError("pipeline was discarded");
        const [waitError, confirmed] = replyAt(results, batch.length);
        batch.forEach(({ resolve, reject }, i) => {
          const [error, written] = replyAt(results, i);
          const failure = error ?? waitError;
          if (failure === null) resolve({ written, confirmed: Number(confirmed), epoch });
          else reject(failure);
        });
      } catch (error) {
        for (const { reject } of batch) reject(error as Error);
      }
    }
    this.#sending = false;
  }

  /**
   * The writes whose requests still wait for them. The others have been answered 503 while they
   * queued behind a batch (a frozen master): sent now, they could overwrite what later requests,
   * answered with success, wrote.
   */
  #unexpired(queued: Queued[]): Queued[] {
    const now = Date.now();
    return queued.filter(({ deadline, reject }) => {
      if (deadline > now) return true;
      reject(new RetryableError("the write's deadline passed before it was sent"));
      return false;
    });
  }

  /**
   * Repeats WAIT until `replicas` confirm. A reconnection in between means the WAIT may have gone
   * to a new master that never saw the write, so the whole write is redone.
   */
  async #awaitReplicas(confirmed: number, epoch: number, deadline: number): Promise<void> {
    const { replicas } = this;
    let count = confirmed;
    for (;;) {
      if (this.#epoch !== epoch) {
        throw new RetryableError("connection changed between the write and its WAIT");
      }
      if (count >= replicas) return;
      // Stop short of the deadline, so the answer is "not durable" rather than "no answer".
      const remaining = deadline - REPLY_MARGIN_MS - Date.now();
      if (remaining <= 0) throw new SessionNotDurableError(count, replicas);
      // While too few replicas are even connected (one re-attaching after a failover), a WAIT
      // would only hold the connection, and every write queued behind it, for nothing.
      if ((await this.#connectedReplicas()) < replicas) {
        await delay(Math.min(RECHECK_MS, remaining));
        continue;
      }
      count = await this.#connection.wait(
        replicas,
        Math.min(this.timeoutMs, RECHECK_MS, remaining),
      );
    }
  }

  /** Replicas connected to the master, from ROLE (which does not block). */
  async #connectedReplicas(): Promise<number> {
    const role = (await this.#connection.call("ROLE")) as [string, number, unknown[]?];
    return role[0] === "master" ? (role[2]?.length ?? 0) : 0;
  }
}

/** The reply of the pipeline's i-th command. */
function replyAt(results: [Error | null, unknown][], i: number): [Error | null, unknown] {
  return results[i] ?? [new RetryableError("pipeline reply missing"), undefined];
}
