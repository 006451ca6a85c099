import { escapeGlob } from "../redis/backend/scan.js";

/** A Cluster hash tag at the start of a session id, as login() issues it there: `{xy}`. */
const TAG = /^\{[A-Za-z0-9_-]{2}\}/;

/**
 * Every Redis key of a session store, built here and nowhere else in TypeScript:
 * `<prefix><sid>` for a session, `<prefix>user:<userId>` for a user's index (on a Cluster
 * `<prefix>{xy}user:<userId>`, where `{xy}` is the user's hash tag, which the ids login() issues
 * there start with: a user's sessions and index share a slot). The scripts are given these keys in
 * KEYS[]; the keys only Redis knows when a script runs (the index named by a session's stored
 * `$uid`, the sessions a user's index lists) they build from the index prefix of the session
 * (`indexArgFor`) and `prefix`, by the same rule, so they are in the slot of the key given.
 */
export class SessionKeys {
  /** SCAN pattern matching every key of the store: sessions and indexes. */
  readonly pattern: string;
  /** Matches what follows the prefix in an index key. */
  readonly #indexKey = /^(\{[A-Za-z0-9_-]{2}\})?user:/;

  constructor(
    readonly prefix: string,
    /** Whether keys are spread over a Cluster's slots, so that an index goes by its user's tag. */
    readonly tagged: boolean,
  ) {
    this.pattern = `${escapeGlob(prefix)}*`;
  }

  session(sid: string): string {
    return this.prefix + sid;
  }

  /** The session id of a key SCAN found, or undefined for a key that is not a session. */
  sidOf(key: string): string | undefined {
    if (!key.startsWith(this.prefix)) return undefined;
    const sid = key.slice(this.prefix.length);
    return this.#indexKey.test(sid) || sid === USER_TAG_KEY ? undefined : sid;
  }

  /** The user's index key; `tag` is the user's hash tag on a Cluster (see UserSessions). */
  index(userId: string, tag: string): string {
    return `${this.prefix}${this.tagged ? tag : ""}user:${userId}`;
  }

  /**
   * The prefix of the index a session's user has, as the scripts take it: "" where the session
   * can have none (on a Cluster, an id without a hash tag: login() did not issue it).
   */
  indexArgFor(sid: string): string {
    if (!this.tagged) return `${this.prefix}user:`;
    const tag = TAG.exec(sid)?.[0];
    return tag === undefined ? "" : `${this.prefix}${tag}user:`;
  }

  /** The key holding the key of the users' hash tags (see UserSessions). */
  get userTagKey(): string {
    return this.prefix + USER_TAG_KEY;
  }
}

/** What follows the prefix in the key of the users' hash-tag key. */
const USER_TAG_KEY = "user-tag-key";
