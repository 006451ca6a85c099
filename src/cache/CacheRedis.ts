import type { NormalizedCacheOptions } from "./options.js";
import { CacheKeys } from "./CacheKeys.js";
import { CACHE_SCRIPTS } from "./scripts.js";
import type { AcquireReply } from "./scripts.js";
import type { Budget, Keyspace } from "../redis/Keyspace.js";

export type { Budget } from "../redis/Keyspace.js";

/**
 * The cache's Redis commands: the arguments of its scripts, framed for the cache's Keyspace,
 * which bounds each by the call's budget, retries it through failovers and confirms changes with
 * replicas.
 */
export class CacheRedis {
  readonly keys: CacheKeys;

  constructor(
    readonly keyspace: Keyspace,
    readonly options: NormalizedCacheOptions,
  ) {
    this.keys = new CacheKeys(options.prefix);
  }

  /** The Redis wait budget of one call: `unavailable.waitMs` for all its commands together. */
  budget(): Budget {
    return this.keyspace.budget("call");
  }

  /** Now on the server's clock, as last measured. */
  serverNow(): number {
    return this.keyspace.serverNow();
  }

  /** The stored string of a value (null: none; a key of another type counts as none). */
  read(redisKey: string, budget: Budget): Promise<string | null> {
    return this.keyspace.bounded(
      "cache read",
      () => this.keyspace.read("GET", redisKey, stringOrNull, this.keyspace.absent),
      budget,
    );
  }

  /** Each tag's last invalidation (server ms; 0: never), in `tags`' order. */
  tagTimes(tags: readonly string[], budget: Budget): Promise<number[]> {
    const { keyspace } = this;
    return keyspace.bounded(
      "cache tag read",
      () =>
        Promise.all(
          tags.map((tag) =>
            keyspace.send("GET", [this.keys.tag(tag)]).then((reply) => Number(reply ?? 0) || 0),
          ),
        ),
      budget,
    );
  }

  acquire(
    redisKey: string,
    token: string,
    leaseMs: number,
    fenceTtlMs: number,
    minCreated: number,
    overwrite: boolean,
    budget: Budget,
  ): Promise<AcquireReply> {
    return this.keyspace.bounded(
      "cache lease",
      async () =>
        (await this.keyspace.runScript(
          CACHE_SCRIPTS.acquire,
          [redisKey],
          [token, leaseMs, fenceTtlMs, minCreated, overwrite ? 1 : 0],
        )) as AcquireReply,
      budget,
    );
  }

  renew(redisKey: string, token: string, leaseMs: number): Promise<unknown> {
    return this.keyspace.runScript(CACHE_SCRIPTS.renew, [redisKey], [token, leaseMs]);
  }

  /** The fill script (see scripts.ts): 1 stored, 0 refused as stale, -1 nothing stored. */
  async fill(redisKey: string, args: (string | number)[], budget: Budget): Promise<number> {
    return Number(
      await this.keyspace.bounded(
        "cache fill",
        () => this.keyspace.runScript(CACHE_SCRIPTS.fill, [redisKey], args),
        budget,
      ),
    );
  }

  /**
   * A change (see the change script), confirmed by `durability.replicas` replicas before it
   * resolves, within `changeWaitMs`; `args` with a placeholder at the deadline.
   */
  async change(redisKey: string, args: (string | number)[], what: string): Promise<unknown> {
    return (await this.keyspace.write(redisKey, args, what)).reply;
  }

  /** Reports a key that holds something the cache did not write (once per key). */
  reportCorrupt(redisKey: string, why: string): void {
    this.keyspace.reportCorrupt(redisKey, why);
  }
}

/** A GET's reply as the cache takes it: a string, else none. */
function stringOrNull(reply: unknown): string | null {
  return typeof reply === "string" ? reply : null;
}
