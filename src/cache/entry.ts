import { CorruptEntryError } from "../errors/internal/CorruptEntryError.js";

/** A value as the cache stores it (see scripts.ts), decoded. */
export interface StoredEntry {
  /** When the load or write that produced it began (server ms): tags invalidated since win. */
  created: number;
  /** Until when it is fresh (server ms); past it, it may only be served stale. */
  freshUntil: number;
  tags: readonly string[] | undefined;
  value: unknown;
}

/**
 * The stored string of a value as an entry.
 * @throws CorruptEntryError when it is not in the cache's format
 */
export function decodeEntry(stored: string): StoredEntry {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stored);
  } catch {
    throw new CorruptEntryError("the value is not the cache's JSON (written by something else?)");
  }
  if (typeof parsed !== "object" || parsed === null || !("v" in parsed)) {
    throw new CorruptEntryError("the value is not an entry of this cache");
  }
  const { c, e, t, v } = parsed as { c?: unknown; e?: unknown; t?: unknown; v: unknown };
  if (typeof c !== "number" || typeof e !== "number") {
    throw new CorruptEntryError("the entry has no creation or expiry time");
  }
  if (t !== undefined && !(Array.isArray(t) && t.every((tag) => typeof tag === "string"))) {
    throw new CorruptEntryError("the entry's tags are not a list of strings");
  }
  return { created: c, freshUntil: e, tags: t, value: v };
}

/**
 * A value as JSON.
 * @throws TypeError naming the key when JSON cannot encode it (a BigInt, a cycle, a function)
 */
export function encodeValue(key: string, value: unknown): string {
  const cannot = (why: string, cause?: unknown) =>
    new TypeError(
      `the value for cache key "${key.slice(0, 80)}" cannot be stored as JSON: ${why}`,
      cause === undefined ? undefined : { cause },
    );
  // What JSON.stringify turns into nothing at all.
  if (value === undefined || typeof value === "function" || typeof value === "symbol") {
    throw cannot(`a ${typeof value}`);
  }
  try {
    return JSON.stringify(value);
  } catch (error) {
    throw cannot(error instanceof Error ? error.message : String(error), error);
  }
}

/** Tags as the scripts take them: a JSON array, or "" for none. */
export function encodeTags(tags: readonly string[] | undefined): string {
  if (tags === undefined || tags.length === 0) return "";
  for (const tag of tags) {
    if (typeof tag !== "string" || tag === "") {
      throw new TypeError(
        `tags must be non-empty strings; got ${typeof tag === "string" ? "an empty one" : typeof tag}`,
      );
    }
  }
  return JSON.stringify(tags);
}
