import { escapeGlob } from "../redis/scan.js";

/**
 * Every Redis key of a session store, built here and nowhere else in TypeScript:
 * `<prefix><sid>` for a session, `<prefix>user:<userId>` for a user's index. The scripts are
 * given these keys in KEYS[]; the two keys only Redis knows when a script runs (the index named
 * by a session's stored `$uid`, the sessions a user's index lists) they build from `indexPrefix`
 * and `prefix`, by the same rule.
 */
export class SessionKeys {
  /**
   * Prefix of the per-user index keys; undefined where the index is not kept (a Cluster, where a
   * script may touch only keys of one slot).
   */
  readonly indexPrefix: string | undefined;
  /** SCAN pattern matching every key of the store: sessions and indexes. */
  readonly pattern: string;

  constructor(
    readonly prefix: string,
    { indexed }: { indexed: boolean },
  ) {
    this.indexPrefix = indexed ? `${prefix}user:` : undefined;
    this.pattern = `${escapeGlob(prefix)}*`;
  }

  session(sid: string): string {
    return this.prefix + sid;
  }

  /** The session id of a key SCAN found, or undefined for a key that is not a session. */
  sidOf(key: string): string | undefined {
    if (!key.startsWith(this.prefix) || key.startsWith(`${this.prefix}user:`)) return undefined;
    return key.slice(this.prefix.length);
  }

  /** The user's index key; undefined where the index is not kept. */
  index(userId: string): string | undefined {
    return this.indexPrefix === undefined ? undefined : this.indexPrefix + userId;
  }

  /** `indexPrefix` as the scripts take it: "" where no index is kept. */
  get indexArg(): string {
    return this.indexPrefix ?? "";
  }
}
