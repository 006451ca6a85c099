import { asRecord, describe, positiveInteger, rejectUnknown } from "../redis/options/validate.js";
import { CACHE_DEFAULTS, checkLifetime } from "./options.js";

/** Options of one call; `T` is the type of its value. */
export interface CacheCallOptions<T = unknown> {
  /**
   * Seconds the value is fresh, or a function of the value that returns them (`(product) =>
   * product.onSale ? 60 : 3_600`; not called for a loader's `null`, which `negativeTtl` covers);
   * the cache's `ttl` by default.
   */
  ttl?: number | ((value: T) => number) | undefined;
  /** Tags: `invalidateTag(tag)` invalidates every value stored with it before. */
  tags?: readonly string[] | undefined;
}

/** A per-call `ttl` in seconds (or a function), validated as the option is; undefined: the cache's. */
function checkCallTtl(value: unknown, staleTtlMs: number): void {
  if (value === undefined || typeof value === "function") return;
  positiveInteger(value, "ttl", "seconds or a function of the value");
  checkLifetime(value, staleTtlMs / 1000, "ttl");
}

/** A call's `ttl` (checked): ms, a function of the value (seconds), or undefined (the cache's). */
export type CallTtl = number | ((value: unknown) => unknown) | undefined;

export function callTtl(options: CacheCallOptions<never> | undefined): CallTtl {
  const ttl = options?.ttl as CallTtl;
  return typeof ttl === "number" ? ttl * 1000 : ttl;
}

/**
 * The ms a value of `key` is fresh by its call's `ttl`; undefined: the cache's.
 * @throws TypeError when a `ttl` function returns no positive number of seconds, or one past the
 * longest lifetime
 */
export function ttlMsOf(
  ttl: CallTtl,
  key: string,
  value: unknown,
  staleTtlMs: number,
): number | undefined {
  if (typeof ttl !== "function") return ttl;
  const seconds = ttl(value);
  const most = CACHE_DEFAULTS.maxLifetimeSeconds - staleTtlMs / 1000;
  if (typeof seconds !== "number" || !(seconds > 0) || seconds > most) {
    throw new TypeError(
      `\`ttl\` returned ${describe(seconds)} for cache key "${key.slice(0, 80)}": it must return ` +
        `a positive number of seconds, at most ${most} (7 days less \`staleTtl\`); nothing was stored`,
    );
  }
  return Math.max(1, Math.round(seconds * 1000));
}

/** What each call takes in its options. */
const CALL_KEYS: Readonly<Record<string, readonly string[]>> = {
  getOrLoad: ["ttl", "tags"],
  writeThrough: ["ttl", "tags"],
  set: ["ttl", "tags"],
  get: ["tags"],
};

/**
 * Validates one call's options as the factory's are (callers without types may pass anything):
 * nothing is allocated, so that a local-tier hit stays free.
 * @throws TypeError naming the call and the option, with the fix
 */
export function checkCallOptions(
  value: unknown,
  call: "getOrLoad" | "writeThrough" | "set" | "get",
  staleTtlMs: number,
): asserts value is CacheCallOptions | undefined {
  if (value === undefined) return;
  try {
    const record = asRecord(value, "options");
    rejectUnknown(record, CALL_KEYS[call] ?? [], "");
    checkCallTtl(record.ttl, staleTtlMs);
    checkTags(record.tags);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    throw new TypeError(`${call}: ${error.message}`, { cause: error });
  }
}

/** `tags`: undefined, or an array of non-empty strings. */
function checkTags(tags: unknown): asserts tags is readonly string[] | undefined {
  if (tags === undefined) return;
  if (!Array.isArray(tags)) {
    throw new TypeError(
      `\`tags\` must be an array of non-empty strings (e.g. ["catalogue"]); got ${describe(tags)}`,
    );
  }
  for (const tag of tags as unknown[]) {
    if (typeof tag !== "string" || tag === "") {
      throw new TypeError(`\`tags\` must hold non-empty strings; got ${describe(tag)} in it`);
    }
  }
}
