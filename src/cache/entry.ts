import { isDeepStrictEqual } from "node:util";
import { CorruptEntryError } from "../errors/internal/CorruptEntryError.js";

/**
 * How values are turned into strings and back, instead of JSON: anything with `stringify` and
 * `parse` (superjson; `v8Serializer`).
 */
export interface CacheSerializer {
  stringify(value: unknown): string;
  parse(text: string): unknown;
}

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
export function decodeEntry(stored: string, serializer?: CacheSerializer): StoredEntry {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stored);
  } catch {
    throw new CorruptEntryError("the value is not the cache's JSON (written by something else?)");
  }
  if (typeof parsed !== "object" || parsed === null || !("v" in parsed || "s" in parsed)) {
    throw new CorruptEntryError("the value is not an entry of this cache");
  }
  const { c, e, t, s } = parsed as { c?: unknown; e?: unknown; t?: unknown; s?: unknown };
  let { v } = parsed as { v?: unknown };
  if (typeof c !== "number" || typeof e !== "number") {
    throw new CorruptEntryError("the entry has no creation or expiry time");
  }
  if (t !== undefined && !(Array.isArray(t) && t.every((tag) => typeof tag === "string"))) {
    throw new CorruptEntryError("the entry's tags are not a list of strings");
  }
  if (s !== undefined) {
    if (serializer === undefined || typeof s !== "string") {
      throw new CorruptEntryError("the entry was stored with a `serializer` this cache has not");
    }
    try {
      v = serializer.parse(s);
    } catch (error) {
      throw new CorruptEntryError(`the \`serializer\` cannot parse the entry: ${String(error)}`);
    }
  }
  return { created: c, freshUntil: e, tags: t, value: v };
}

/**
 * A value as JSON, which gives it back as it was: plain objects and arrays of strings, finite
 * numbers, booleans and null. Whatever JSON would change on the way — a Date (back as a string),
 * a Map or Set (back as `{}`), a class instance (back without its class), `undefined` in an array
 * (back as null), NaN or Infinity (null), a function (dropped) — is refused, so that a hit never
 * gives back something else than the miss did. An object property that is `undefined` is left out,
 * as it reads the same.
 * @throws TypeError naming the key and what cannot be stored
 */
export function encodeValue(key: string, value: unknown, serializer?: CacheSerializer): string {
  try {
    if (value === undefined) throw new Unrepresentable("undefined (which caches nothing)");
    if (serializer !== undefined) return `"s":${JSON.stringify(serialized(value, serializer))}`;
    return `"v":${JSON.stringify(value, keepsItsShape)}`;
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new TypeError(
      `the value for cache key "${key.slice(0, 80)}" cannot be stored ` +
        `${serializer === undefined ? "as JSON" : "with the `serializer`"}: ${why}`,
      error instanceof Unrepresentable ? undefined : { cause: error },
    );
  }
}

/**
 * `value` as the serializer's string, once it is known to give the value back as it was (same
 * structure, types and prototypes: `isDeepStrictEqual`).
 */
function serialized(value: unknown, serializer: CacheSerializer): string {
  const text = serializer.stringify(value);
  if (typeof text !== "string") {
    throw new Unrepresentable(`its stringify() returned ${typeof text}, not a string`);
  }
  if (!isDeepStrictEqual(serializer.parse(text), value)) {
    throw new Unrepresentable("it would not come back as it was (a class instance? a function?)");
  }
  return text;
}

/** Something JSON would not give back as it was. */
class Unrepresentable extends Error {}

/**
 * JSON.stringify's replacer: sees each value as it was (`holder[name]`, before `toJSON`) and
 * refuses what JSON would change; allocates nothing for what it lets through.
 */
function keepsItsShape(this: unknown, name: string, encoded: unknown): unknown {
  const holder = this as Record<string, unknown>;
  const value = holder[name];
  switch (typeof value) {
    case "object": {
      if (value === null || Array.isArray(value)) return encoded;
      const prototype = Object.getPrototypeOf(value) as object | null;
      if ((prototype === Object.prototype || prototype === null) && !("toJSON" in value)) {
        return encoded;
      }
      const kind = (value as { constructor?: { name?: unknown } }).constructor?.name;
      throw new Unrepresentable(
        (typeof kind === "string" && kind !== "" ? `a ${kind}` : "an object with a toJSON") +
          `${where(holder, name)} would come back as ${kind === "Date" ? "a string" : "a plain object"} ` +
          "(store plain data: a Date as its getTime() or toISOString(), a Map as an object or entries)",
      );
    }
    case "number":
      if (Number.isFinite(value)) return encoded;
      throw new Unrepresentable(`${String(value)}${where(holder, name)} would come back as null`);
    case "bigint":
      throw new Unrepresentable(`a BigInt${where(holder, name)} (store it as a string)`);
    case "undefined":
      if (name !== "" && !Array.isArray(holder)) return encoded;
      throw new Unrepresentable(`undefined${where(holder, name)} would come back as null`);
    case "function":
    case "symbol":
      throw new Unrepresentable(`a ${typeof value}${where(holder, name)} would be left out`);
    default:
      return encoded;
  }
}

/** Where in its holder a refused value is, for the error (built only then). */
function where(holder: object, name: string): string {
  if (name === "") return "";
  return Array.isArray(holder) ? ` at index ${name}` : ` at "${name}"`;
}

/** Tags (validated: see checkCallOptions) as the scripts take them: a JSON array, or "" for none. */
export function encodeTags(tags: readonly string[] | undefined): string {
  return tags === undefined || tags.length === 0 ? "" : JSON.stringify(tags);
}
