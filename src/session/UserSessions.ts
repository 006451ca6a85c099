import { createHmac, randomBytes } from "node:crypto";
import { RetryableError } from "../errors/internal/RetryableError.js";
import type { Cookie } from "express-session";
import type { NormalizedStoreOptions } from "./options.js";
import type { TtlPolicy } from "./ttl.js";
import { unpack } from "./codec.js";
import type { SessionCommands } from "./SessionCommands.js";
import type { Budget } from "../redis/Keyspace.js";

/** One session of a user, as {@link sessionsOf} lists it. */
export interface UserSession {
  /** The session id. A bearer secret: show it to no one, not even its user. */
  id: string;
  /** When the session was first stored. */
  createdAt: Date | undefined;
  /** When it was last used, to within `touchAfter`: its expiry minus its lifetime. */
  lastSeenAt: Date | undefined;
  /** The session's `userAgent` key, if the app stored one. */
  userAgent: string | undefined;
}

/**
 * The per-user index: which sessions a user has, and ending all of them.
 *
 * On a Cluster a user's sessions and index share a slot, so that every script stays atomic: the
 * ids login() issues there start with the user's hash tag, `{xy}`, two base64url characters of an
 * HMAC of the user id (4 096 tags). Its key is random, made once per prefix and kept in Redis
 * (`<prefix>user-tag-key`): not the session secret, whose rotation would split a user's sessions
 * over two slots, and not the raw id, which a cookie would reveal. Two cookies of one user share
 * their first 12 bits; a user id cannot be tested against a cookie without the key.
 */
export class UserSessions {
  readonly #ttl: TtlPolicy;
  /** The key of the users' hash tags, once read (Cluster only). */
  #tagKey: Promise<string> | undefined;

  constructor(
    private readonly commands: SessionCommands,
    options: NormalizedStoreOptions,
  ) {
    this.#ttl = options.ttl;
  }

  /**
   * The user's live sessions; ids whose session is gone are pruned from the index. Every command
   * of it together within `unavailable.waitMs`.
   * @throws RedisUnavailableError when Redis does not answer within it
   */
  list(userId: string): Promise<UserSession[]> {
    const { commands } = this;
    const { keyspace } = commands;
    return keyspace.bounded("sessionsOf", async () => {
      const index = commands.keys.index(userId, await this.#tag(userId));
      const sids = (await keyspace.send("SMEMBERS", [index])) as string[];
      // One round trip for all of them: the commands of one turn go out together.
      const read = await Promise.all(
        sids.map((sid) => {
          const key = commands.keys.session(sid);
          return Promise.all([
            keyspace.send("HMGET", [key, ...USER_FIELDS]) as Promise<(string | null)[]>,
            keyspace.send("PTTL", [key]) as Promise<number>,
          ]);
        }),
      );
      const sessions: UserSession[] = [];
      const stale: string[] = [];
      read.forEach(([fields, pttl], i) => {
        const sid = sids[i] ?? "";
        const [uid, created, cookie, plainAgent, pack, touched] = fields;
        if (pttl < 0 || uid !== userId) {
          stale.push(sid);
          return;
        }
        sessions.push({
          id: sid,
          createdAt: created ? new Date(Number(created)) : undefined,
          lastSeenAt: this.#lastSeen(cookie ?? null, touched ?? null, pttl),
          userAgent: parseString(plainAgent ?? packedAgent(pack ?? null)),
        });
      });
      if (stale.length > 0) await keyspace.send("SREM", [index, ...stale]);
      return sessions;
    });
  }

  /** Deletes every session of the user within `budget`; returns how many there were. */
  async destroyAll(userId: string, budget: Budget): Promise<number> {
    const tag = await this.tagOf(userId, budget);
    return this.commands.destroyUser(this.commands.keys.index(userId, tag), budget);
  }

  /**
   * The key of the users' hash tags: read, or made (random, 32 bytes) by the first instance that
   * needs it.
   */
  #readTagKey(): Promise<string> {
    const key = this.commands.keys.userTagKey;
    const { keyspace } = this.commands;
    return keyspace.bounded("user tag key read", async () => {
      await keyspace.send("HSETNX", [key, "key", randomBytes(32).toString("base64url")]);
      const stored = await keyspace.send("HGET", [key, "key"]);
      if (typeof stored !== "string") throw new RetryableError("the user tag key was not stored");
      return stored;
    });
  }

  /**
   * The user's hash tag on a Cluster (see the class), known within `budget`; "" on other
   * topologies.
   */
  tagOf(userId: string, budget: Budget): Promise<string> {
    if (!this.commands.keys.tagged) return Promise.resolve("");
    return this.commands.keyspace.bounded("user tag key read", () => this.#tag(userId), budget);
  }

  /** The user's hash tag, as tagOf, for a caller that bounds the wait itself. */
  async #tag(userId: string): Promise<string> {
    if (!this.commands.keys.tagged) return "";
    // One read shared by every caller, whatever each may wait.
    this.#tagKey ??= this.#readTagKey().catch((error: unknown) => {
      this.#tagKey = undefined;
      throw error;
    });
    const digest = createHmac("sha256", await this.#tagKey)
      .update(userId)
      .digest("base64url");
    return `{${digest.slice(0, 2)}}`;
  }

  /**
   * When the session's TTL was last set: what its TTL has left, less the TTL it was given; with a
   * `ttl` function (which needs the whole session) the time that renewal recorded (`$touched`).
   */
  #lastSeen(cookie: string | null, touched: string | null, pttl: number): Date | undefined {
    if (this.#ttl.computed) return touched === null ? undefined : new Date(Number(touched));
    const stored = cookie === null ? undefined : (JSON.parse(cookie) as Cookie);
    return new Date(Date.now() + pttl - this.#ttl.ttlFor({ cookie: stored }));
  }
}

/** The fields sessionsOf reads of each session. */
const USER_FIELDS = ["$uid", "$created", "cookie", "userAgent", "$pack", "$touched"];

/**
 * A user agent over 64 bytes is in the session's $pack (see the write script); a pack cut short
 * (corrupt) gives what it holds before the cut.
 */
function packedAgent(pack: string | null): string | null {
  if (pack === null) return null;
  let agent: string | null = null;
  try {
    unpack(pack, (field, value) => {
      if (field === "userAgent") agent = value;
    });
  } catch {
    // the entries before the cut were taken
  }
  return agent;
}

function parseString(json: string | null): string | undefined {
  if (json === null) return undefined;
  try {
    const value = JSON.parse(json) as unknown;
    return typeof value === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}
