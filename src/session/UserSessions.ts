import { createHmac, randomBytes } from "node:crypto";
import { RetryableError } from "../errors/internal/RetryableError.js";
import { withinDeadline } from "../redis/deadline.js";
import type { Cluster, Redis } from "ioredis";
import type { Cookie } from "express-session";
import type { NormalizedStoreOptions } from "./options.js";
import { TtlPolicy } from "./ttl.js";
import { unpack } from "./codec.js";
import type { SessionCommands } from "./SessionCommands.js";

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
  private readonly waitMs: number;
  /** The key of the users' hash tags, once read (Cluster only). */
  #tagKey: Promise<string> | undefined;

  constructor(
    private readonly client: Redis | Cluster,
    private readonly commands: SessionCommands,
    options: NormalizedStoreOptions,
  ) {
    this.#ttl = new TtlPolicy(options);
    this.waitMs = options.waitMs;
  }

  /** The user's live sessions; ids whose session is gone are pruned from the index. */
  async list(userId: string): Promise<UserSession[]> {
    const index = this.commands.keys.index(userId, await this.tagOf(userId));
    const sids = await this.client.smembers(index);
    const sessions: UserSession[] = [];
    const stale: string[] = [];
    for (const sid of sids) {
      const key = this.commands.keys.session(sid);
      const [[, fields], [, pttl]] = (await this.client
        .pipeline()
        .hmget(key, "$uid", "$created", "cookie", "userAgent", "$pack")
        .pttl(key)
        .exec()) as [[Error | null, (string | null)[]], [Error | null, number]];
      const [uid, created, cookie, plainAgent, pack] = fields;
      let userAgent = plainAgent;
      // A user agent over 64 bytes is in the session's $pack (see the write script); a pack cut
      // short (corrupt) gives what it holds before the cut.
      if (userAgent == null && pack != null) {
        try {
          unpack(pack, (field, value) => {
            if (field === "userAgent") userAgent = value;
          });
        } catch {
          // the entries before the cut were taken
        }
      }
      if (pttl < 0 || uid !== userId) {
        stale.push(sid);
        continue;
      }
      sessions.push({
        id: sid,
        createdAt: created ? new Date(Number(created)) : undefined,
        lastSeenAt: this.#lastSeen(cookie ?? null, pttl),
        userAgent: parseString(userAgent ?? null),
      });
    }
    if (stale.length > 0) await this.client.srem(index, ...stale);
    return sessions;
  }

  /** Deletes every session of the user; returns how many there were. */
  async destroyAll(userId: string): Promise<number> {
    return this.commands.destroyUser(this.commands.keys.index(userId, await this.tagOf(userId)));
  }

  /**
   * The key of the users' hash tags: read, or made (random, 32 bytes) by the first instance that
   * needs it.
   */
  #readTagKey(): Promise<string> {
    const key = this.commands.keys.userTagKey;
    return withinDeadline("user tag key", this.waitMs, async () => {
      await this.client.hsetnx(key, "key", randomBytes(32).toString("base64url"));
      const stored = await this.client.hget(key, "key");
      if (stored === null) throw new RetryableError("the user tag key was not stored");
      return stored;
    });
  }

  /** The user's hash tag on a Cluster (see the class); "" on other topologies. */
  async tagOf(userId: string): Promise<string> {
    if (!this.commands.keys.tagged) return "";
    this.#tagKey ??= this.#readTagKey().catch((error: unknown) => {
      this.#tagKey = undefined;
      throw error;
    });
    const digest = createHmac("sha256", await this.#tagKey)
      .update(userId)
      .digest("base64url");
    return `{${digest.slice(0, 2)}}`;
  }

  #lastSeen(cookie: string | null, pttl: number): Date | undefined {
    const stored = cookie === null ? undefined : (JSON.parse(cookie) as Cookie);
    return new Date(Date.now() + pttl - this.#ttl.ttlFor(stored));
  }
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
