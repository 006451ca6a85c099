import type { CacheCallOptions } from "./callOptions.js";

/** The calls of a cache a namespace goes through (RedisCache's). */
interface CacheCalls {
  getOrLoad<T>(
    key: string,
    loader: () => Promise<T> | T,
    options?: CacheCallOptions<T>,
  ): Promise<T>;
  get<T>(key: string, options?: Pick<CacheCallOptions, "tags">): Promise<T | undefined>;
  set<T>(key: string, value: T, options?: CacheCallOptions<T>): Promise<void>;
  writeThrough<T>(
    key: string,
    writer: () => Promise<T> | T,
    options?: CacheCallOptions<T>,
  ): Promise<T>;
  invalidate(keys: string | readonly string[]): Promise<void>;
  invalidateTag(tag: string): Promise<void>;
}

/** The tag every value of namespace `name` is stored with (a prefix no user tag has). */
const namespaceTag = (name: string) => `\u0000ns:${name}`;

/**
 * A namespace of a cache (`cache.namespace("products")`): its keys apart from the cache's other
 * keys, and `clear()` to invalidate them all at once, on every topology — a Cluster's included,
 * without KEYS or SCAN. Each value is stored with the namespace's tag; clear() invalidates that
 * tag, so what any instance stored before (or was loading when it ran) is a miss from then on,
 * and its keys expire with their TTL. Calls are the cache's: its events, stats and connection.
 */
export class CacheNamespace {
  readonly #tag: string;
  readonly #prefix: string;
  readonly #tags: readonly string[];

  constructor(
    private readonly cache: CacheCalls,
    readonly name: string,
  ) {
    if (typeof name !== "string" || name === "" || name.includes("\u0000")) {
      throw new TypeError(`a namespace's name must be a non-empty string; got ${typeof name}`);
    }
    this.#tag = namespaceTag(name);
    this.#prefix = `${name}:`;
    this.#tags = [this.#tag];
  }

  /** See RedisCache.getOrLoad. */
  getOrLoad<T>(
    key: string,
    loader: () => Promise<T> | T,
    options?: CacheCallOptions<T>,
  ): Promise<T> {
    return this.cache.getOrLoad(this.#key(key), loader, this.#with(options));
  }

  /** See RedisCache.get. */
  get<T = unknown>(key: string, options?: Pick<CacheCallOptions, "tags">): Promise<T | undefined> {
    return this.cache.get<T>(this.#key(key), this.#with(options));
  }

  /** See RedisCache.set. */
  set<T>(key: string, value: T, options?: CacheCallOptions<T>): Promise<void> {
    return this.cache.set(this.#key(key), value, this.#with(options));
  }

  /** See RedisCache.writeThrough. */
  writeThrough<T>(
    key: string,
    writer: () => Promise<T> | T,
    options?: CacheCallOptions<T>,
  ): Promise<T> {
    return this.cache.writeThrough(this.#key(key), writer, this.#with(options));
  }

  /** See RedisCache.invalidate. */
  invalidate(keys: string | readonly string[]): Promise<void> {
    return this.cache.invalidate(
      typeof keys === "string" ? this.#key(keys) : keys.map((key) => this.#key(key)),
    );
  }

  /** Invalidates every value of the namespace, on every instance (see the class). */
  clear(): Promise<void> {
    return this.cache.invalidateTag(this.#tag);
  }

  #key(key: string): string {
    if (typeof key !== "string") {
      throw new TypeError(`a cache key must be a non-empty string; got ${typeof key}`);
    }
    return this.#prefix + key;
  }

  /** The call's options with the namespace's tag added (a bad `tags` left for the check). */
  #with<O extends { tags?: readonly string[] | undefined }>(options: O | undefined): O {
    const tags: unknown = options?.tags;
    const merged =
      tags === undefined
        ? this.#tags
        : Array.isArray(tags)
          ? [...(tags as unknown[]), this.#tag]
          : tags;
    return { ...options, tags: merged } as unknown as O;
  }
}
