import { CACHE_DEFAULTS } from "./options.js";

/**
 * The Redis keys of a cache. A key's value is `<prefix>{<key>}`; beside it, in the same Cluster
 * slot (the braces make `<key>` the hash tag), its fence `…:f` (a version every invalidation and
 * write-through bumps), its lease `…:l` (the one load in flight, fleet-wide) and its writers `…:w`
 * (write-throughs in flight). The scripts derive those three from the value's key. A tag's
 * invalidation time is `<prefix>tag:<tag>`; messages go to the channel `<prefix>events`.
 */
export class CacheKeys {
  readonly channel: string;

  constructor(readonly prefix: string) {
    this.channel = `${prefix}events`;
  }

  /**
   * The key of `key`'s value.
   * @throws TypeError for a key that is not a non-empty string of at most 1 024 bytes, or starts
   *   with "}"
   */
  entry(key: string): string {
    return `${this.prefix}{${checkKey(key)}}`;
  }

  tag(tag: string): string {
    if (typeof tag !== "string" || tag === "") {
      throw new TypeError(`a tag must be a non-empty string; got ${typeof tag}`);
    }
    return `${this.prefix}tag:${tag}`;
  }

  /** The keys an `all`-style scan of this cache's values matches. */
  get pattern(): string {
    return `${this.prefix}{*}`;
  }
}

function checkKey(key: string): string {
  if (typeof key !== "string") {
    throw new TypeError(`a cache key must be a non-empty string; got ${typeof key}`);
  }
  if (key === "") throw new TypeError("a cache key must be a non-empty string; got an empty one");
  if (key.startsWith("}")) {
    // `{}…` is no hash tag: the value and its fence would be in different Cluster slots.
    throw new TypeError(`a cache key must not start with "}"; got "${key.slice(0, 40)}"`);
  }
  // Bytes: at most 3 per UTF-16 unit, so only a long key needs counting.
  if (key.length * 3 > CACHE_DEFAULTS.maxKeyBytes) {
    const bytes = Buffer.byteLength(key);
    if (bytes > CACHE_DEFAULTS.maxKeyBytes) {
      throw new TypeError(
        `cache key of ${bytes} bytes is longer than ${CACHE_DEFAULTS.maxKeyBytes}: ` +
          `"${key.slice(0, 40)}…" (hash a long key before using it)`,
      );
    }
  }
  return key;
}
