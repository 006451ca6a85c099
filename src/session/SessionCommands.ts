import type { Budget, Keyspace } from "../redis/Keyspace.js";
import { SESSION_SCRIPTS } from "./scripts.js";
import { SessionKeys } from "./SessionKeys.js";
import type { ReadReply, WriteArgs, WriteMode } from "./scripts.js";
import { hashReply, writeReply } from "./replies.js";
import type { SessionRead } from "./replies.js";

/**
 * The store's Redis commands: the arguments of its scripts, framed for the store's Keyspace,
 * which bounds each by the request's wait budget, retries it through failovers and confirms
 * writes with replicas.
 */
export class SessionCommands {
  readonly keys: SessionKeys;

  constructor(
    readonly keyspace: Keyspace,
    prefix: string,
  ) {
    this.keys = new SessionKeys(prefix, !keyspace.backend.keysTogether);
  }

  /** Reads a session and renews its TTL in the same command (see the read script for `ttlMs`). */
  readAndRenew(
    sid: string,
    ttlMs: number,
    defaultTtlMs: number,
    budget?: Budget,
  ): Promise<SessionRead> {
    const { keyspace } = this;
    return keyspace.bounded(
      "session read",
      () => {
        const since = keyspace.failovers;
        return this.#readScript(sid, ttlMs, defaultTtlMs).then((read) =>
          keyspace.vouch(read, since),
        );
      },
      budget,
    );
  }

  /** The read script: the session, its TTL renewed as `ttlMs` says. */
  async #readScript(sid: string, ttlMs: number, defaultTtlMs: number): Promise<ReadReply> {
    const reply = await this.keyspace.runScript(
      SESSION_SCRIPTS.read,
      [this.keys.session(sid)],
      [ttlMs, defaultTtlMs, this.keys.indexArgFor(sid)],
    );
    return reply as ReadReply;
  }

  /**
   * Reads a session with a plain HGETALL, leaving a hash's TTL alone. A key that is not a hash (a
   * connect-redis value) goes through the read script instead, which renews it as `ttlMs` says.
   * With replica reads, a replica that has the reader's last write (`token`) may answer.
   */
  read(
    sid: string,
    ttlMs: number,
    defaultTtlMs: number,
    token = 0,
    budget?: Budget,
  ): Promise<SessionRead> {
    const { keyspace } = this;
    const key = this.keys.session(sid);
    const fromMaster = () => {
      // Failovers followed before the read: one followed while it waited makes it unvouched.
      const since = keyspace.failovers;
      return keyspace.read(
        "HGETALL",
        key,
        (reply) => keyspace.vouch(hashReply(reply), since),
        // Not a hash: a connect-redis value, which the read script reads.
        () =>
          this.#readScript(sid, ttlMs, defaultTtlMs).then((read) => keyspace.vouch(read, since)),
      );
    };
    const replica = keyspace.replicaFor(token, key);
    if (replica === undefined) return keyspace.bounded("session read", fromMaster, budget);
    // A replica that has what the reader needs; a miss (or anything else) is read on the master:
    // lag must never log anyone out.
    return keyspace.bounded(
      "session read",
      () =>
        replica.send("HGETALL", [key]).then((reply) => {
          const read = hashReply(reply);
          return read === null ? fromMaster() : { reply: read, vouched: true };
        }, fromMaster),
      budget,
    );
  }

  /**
   * Sets a session's TTL and records when (`$touched`); does nothing for a session that is gone.
   */
  renew(sid: string, ttlMs: number, budget?: Budget): Promise<void> {
    return this.keyspace.bounded(
      "session touch",
      async () => {
        await this.keyspace.runScript(
          SESSION_SCRIPTS.renew,
          [this.keys.session(sid)],
          [ttlMs, Date.now(), this.keys.indexArgFor(sid)],
        );
      },
      budget,
    );
  }

  /**
   * Applies a write and, if durability asks for it, waits until enough replicas have it.
   * `ttlMs` undefined leaves the TTL as it is ("update" mode only). `checks` (field, value read:
   * "" for none): applied only if every field still holds what this request read, or what this
   * write gives it (see the write script).
   * @returns whether it was written (false: the session was destroyed meanwhile), and with
   *   replica reads the write's causal token
   * @throws NotDurableError when replicas did not confirm within the wait bound
   * @throws RedisUnavailableError when a checked field holds something else
   */
  async write(
    sid: string,
    mode: WriteMode,
    ttlMs: number | undefined,
    {
      changed,
      removed,
      checks = [],
      uid = "",
    }: { changed: string[]; removed: string[]; checks?: string[]; uid?: string },
    budget?: Budget,
  ): Promise<{ written: boolean; offset: number | undefined }> {
    const now = Date.now();
    const pairs = changed.length / 2 + (ttlMs === undefined ? 0 : 1);
    // The deadline (0 here) is stamped by the keyspace.
    const args: WriteArgs = [
      mode,
      ttlMs ?? "",
      this.keys.indexArgFor(sid),
      sid,
      uid,
      now,
      0,
      pairs,
      checks.length / 2,
    ];
    // Setting the TTL records when (`$touched`), so reads know when it is due again.
    if (ttlMs !== undefined) args.push("$touched", String(now));
    for (const value of changed) args.push(value);
    for (const value of checks) args.push(value);
    for (const field of removed) args.push(field);
    const { reply, offset } = await this.keyspace.write(
      this.keys.session(sid),
      args,
      "session write",
      budget,
    );
    return { written: writeReply(reply), offset };
  }

  /** Deletes a session and takes it out of its user's index. */
  destroy(sid: string, budget?: Budget): Promise<void> {
    return this.keyspace.bounded(
      "session delete",
      async () => {
        await this.keyspace.deleteEverywhere(
          SESSION_SCRIPTS.destroy,
          [this.keys.session(sid)],
          [this.keys.indexArgFor(sid), sid],
        );
      },
      budget,
    );
  }

  /** Deletes every session in a user's index, and the index; returns how many it listed. */
  destroyUser(index: string, budget?: Budget): Promise<number> {
    return this.keyspace.bounded(
      "logout everywhere",
      async () =>
        Number(
          await this.keyspace.deleteEverywhere(
            SESSION_SCRIPTS.destroyUser,
            [index],
            [this.keys.prefix],
          ),
        ),
      budget,
    );
  }

  /** Deletes keys (one command each: in a Cluster they may sit in different slots). */
  delete(...keys: string[]): Promise<void> {
    return this.keyspace.bounded("session delete", async () => {
      await Promise.all(keys.map((key) => this.keyspace.send("UNLINK", [key])));
    });
  }
}
