import { randomBytes } from "node:crypto";
import { FENCE_TTL_MS } from "./CacheLoads.js";
import type { CacheCounters } from "./CacheCounters.js";
import type { CacheRedis } from "./CacheRedis.js";
import { encodeTags, encodeValue } from "./entry.js";
import type { LocalTier } from "./LocalTier.js";
import { callTtl, checkCallOptions, ttlMsOf } from "./callOptions.js";
import type { CacheCallOptions } from "./callOptions.js";
import { CACHE_DEFAULTS } from "./options.js";
import { debugFor } from "../redis/debug.js";
import { describe } from "../redis/options/validate.js";

const log = debugFor("cache");

/** A write-through counts as in flight this long at most (its process may have died). */
const WRITER_MS = 30_000;

/**
 * The cache's changes — set, write-through, invalidation by key and by tag — each through the
 * change script (see scripts.ts), confirmed by replicas as `durability` says, and dropped from
 * this process's local tier at once (the others hear of it on the channel).
 */
export class CacheWrites {
  constructor(
    private readonly commands: CacheRedis,
    private readonly local: LocalTier | undefined,
    private readonly counters: CacheCounters,
  ) {}

  /** Stores `value` for `key`, confirmed by replicas as `durability` says. */
  async set<T>(key: string, value: T, options?: CacheCallOptions<T>): Promise<void> {
    checkCallOptions(options, "set", this.commands.options.staleTtlMs);
    const redisKey = this.commands.keys.entry(key);
    const tags = encodeTags(options?.tags);
    const { staleTtlMs } = this.commands.options;
    const freshMs = this.#freshMs(ttlMsOf(callTtl(options), key, value, staleTtlMs));
    const json = encodeValue(key, value, this.commands.options.serializer);
    this.local?.delete(key);
    await this.#change(redisKey, "set", key, FENCE_TTL_MS, [
      freshMs,
      freshMs + this.commands.options.staleTtlMs,
      tags,
      json,
    ]);
  }

  /**
   * Write-through: `writer()` commits the change to the database and returns the new value,
   * which the cache then holds. Before it runs, the key's value is deleted and the key fenced:
   * a load that read the database before the write can never store its value afterwards; of two
   * write-throughs in flight together, neither stores (the next read loads what the database
   * holds). Throws `RedisUnavailableError` without calling `writer` if Redis cannot be told.
   */
  async writeThrough<T>(
    key: string,
    writer: () => Promise<T> | T,
    options?: CacheCallOptions<T>,
  ): Promise<T> {
    checkCallOptions(options, "writeThrough", this.commands.options.staleTtlMs);
    if (typeof writer !== "function") {
      throw new TypeError(`writeThrough's writer must be a function; got ${typeof writer}`);
    }
    const redisKey = this.commands.keys.entry(key);
    const tags = encodeTags(options?.tags);
    const ttl = callTtl(options);
    const token = randomBytes(12).toString("base64url");
    this.local?.delete(key);
    const [fence, began] = (await this.#change(redisKey, "begin", key, FENCE_TTL_MS, [
      token,
      WRITER_MS,
    ])) as [number, number];
    const end = (json: string, ttlMs?: number) => {
      const freshMs = this.#freshMs(ttlMs);
      return this.#change(redisKey, "end", key, FENCE_TTL_MS, [
        token,
        fence,
        began,
        freshMs,
        freshMs + this.commands.options.staleTtlMs,
        tags,
        json,
      ]);
    };
    let value: T;
    try {
      value = await writer();
    } catch (error) {
      await end("").catch(() => undefined);
      throw error;
    }
    let json = "";
    let ttlMs: number | undefined;
    try {
      if (value !== undefined) {
        ttlMs = ttlMsOf(ttl, key, value, this.commands.options.staleTtlMs);
        json = encodeValue(key, value, this.commands.options.serializer);
      }
    } catch (error) {
      await end("").catch(() => undefined);
      throw error;
    }
    // If this fails (counted), the database has the change all the same: the caller hears of
    // it, and the value stays deleted and fenced until the write counts as over.
    const stored = await end(json, ttlMs).catch(() => undefined);
    if (Number(stored) === 0 && json !== "") this.counters.refusedStaleSet(key);
    return value;
  }

  /** Deletes the values of `keys` and refuses loads in flight for them, on every instance. */
  async invalidate(keys: string | readonly string[]): Promise<void> {
    const given = keys as unknown;
    if (typeof given !== "string" && !Array.isArray(given)) {
      throw new TypeError(
        `invalidate: \`keys\` must be a key or an array of keys; got ${describe(given)}`,
      );
    }
    const list = typeof keys === "string" ? [keys] : keys;
    const redisKeys = list.map((key) => this.commands.keys.entry(key));
    for (const key of list) this.local?.delete(key);
    await Promise.all(
      redisKeys.map((redisKey, i) =>
        this.#change(redisKey, "invalidate", list[i] ?? "", FENCE_TTL_MS, []),
      ),
    );
    this.counters.invalidated({ keys: list });
  }

  /** Invalidates every value stored with `tag` until now, on every instance. */
  async invalidateTag(tag: string): Promise<void> {
    const tagKey = this.commands.keys.tag(tag);
    this.local?.deleteTag(tag);
    await this.#change(tagKey, "tag", tag, CACHE_DEFAULTS.maxLifetimeSeconds * 1000, []);
    this.counters.invalidated({ tag });
  }

  #freshMs(ttlMs: number | undefined): number {
    const ttl = ttlMs ?? this.commands.options.ttlMs;
    return Math.max(1, Math.round(ttl * (1 - this.commands.options.ttlJitter * Math.random())));
  }

  #change(
    redisKey: string,
    mode: string,
    name: string,
    ttlMs: number,
    rest: (string | number)[],
  ): Promise<unknown> {
    const args = [mode, this.commands.keys.channel, name, ttlMs, 0, ...rest];
    return this.commands.change(redisKey, args, `cache ${mode}`).catch((error: unknown) => {
      this.#failed(mode, error);
      throw error;
    });
  }

  #failed(what: string, error: unknown): void {
    this.counters.errors++;
    log("cache %s failed: %s", what, error instanceof Error ? error.message : String(error));
  }
}
