import { setTimeout as delay } from "node:timers/promises";
import type { Redis } from "ioredis";
import { SessionNotDurableError } from "../errors/SessionNotDurableError.js";
import { prepareClient } from "../redis/createRedisClient.js";
import { RetryableError } from "./deadline.js";
import { CorkedCommands } from "./CorkedCommands.js";
import { WRITE_SCRIPT } from "./scripts.js";
import type { WriteArgs } from "./scripts.js";

const REPLY_MARGIN_MS = 100;
/** How often an unconfirmed write looks again at its replicas. */
const RECHECK_MS = 100;

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
 * next socket write, followed by one WAIT for all of them. One WAIT per write would make every write
 * wait for the replication round trips of all the writes queued before it.
 */
export class DurableWriter {
  readonly #connection: Redis;
  readonly #commands: CorkedCommands;
  /** Counts (re)connections, to tell whether a write and its WAIT met one master. */
  #epoch = 0;
  /** The epoch in which the write script was last sent in full (EVAL): later, EVALSHA finds it. */
  #scriptEpoch = -1;
  #queue: Queued[] = [];
  #sending = false;

  constructor(
    client: Redis,
    private readonly replicas: number,
    private readonly timeoutMs: number,
  ) {
    this.#connection = prepareClient(client.duplicate());
    this.#connection.on("ready", () => this.#epoch++);
    this.#commands = new CorkedCommands(this.#connection);
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
      const writes = batch.map(({ call }) => this.#sendWrite(call, epoch));
      const wait = this.#commands.send("WAIT", [this.replicas, this.timeoutMs]);
      const [confirmed, ...results] = await Promise.allSettled([wait, ...writes]);
      batch.forEach(({ resolve, reject }, i) => {
        const result = results[i];
        if (result?.status === "rejected") reject(this.#writeError(result.reason));
        else if (confirmed.status === "rejected") reject(confirmed.reason as Error);
        else resolve({ written: result?.value, confirmed: Number(confirmed.value), epoch });
      });
    }
    this.#sending = false;
  }

  /**
   * The write script as EVALSHA; the first time on a connection as EVAL, which loads it (a new
   * master after a failover has never seen it).
   */
  #sendWrite([key, ...args]: WriteCall, epoch: number): Promise<unknown> {
    if (this.#scriptEpoch === epoch) {
      return this.#commands.send("EVALSHA", [WRITE_SCRIPT.sha, 1, key, ...args]);
    }
    this.#scriptEpoch = epoch;
    return this.#commands.send("EVAL", [WRITE_SCRIPT.lua, 1, key, ...args]);
  }

  /** A write's error; NOSCRIPT (the script cache was flushed) loads the script on the retry. */
  #writeError(reason: unknown): Error {
    if (reason instanceof Error && reason.message.startsWith("NOSCRIPT")) {
      this.#scriptEpoch = -1;
      return new RetryableError("the write script was not loaded on the server");
    }
    return reason instanceof Error ? reason : new Error(String(reason));
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
