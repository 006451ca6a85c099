import { asRecord, describe, positiveInteger, rejectUnknown } from "../redis/options/validate.js";
import { checkLifetime } from "./options.js";

/** Options of one call. */
export interface CacheCallOptions {
  /** Seconds the value is fresh; the cache's `ttl` by default. */
  ttl?: number | undefined;
  /** Tags: `invalidateTag(tag)` invalidates every value stored with it before. */
  tags?: readonly string[] | undefined;
}

/** A per-call `ttl` in seconds, validated as the option is; undefined: the cache's. */
function checkCallTtl(value: unknown, staleTtlMs: number): void {
  if (value === undefined) return;
  positiveInteger(value, "ttl", "seconds");
  checkLifetime(value, staleTtlMs / 1000, "ttl");
}

/** A call's `ttl` (checked) in ms; undefined: the cache's. */
export function callTtlMs(options: CacheCallOptions | undefined): number | undefined {
  const ttl = options?.ttl;
  return ttl === undefined ? undefined : ttl * 1000;
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
