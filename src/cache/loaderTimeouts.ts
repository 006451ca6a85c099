import { LoaderTimeoutError } from "../errors/LoaderTimeoutError.js";
import { debugFor } from "../redis/debug.js";
import type { CacheCounters } from "./CacheCounters.js";
import type { StoredEntry } from "./entry.js";
import type { NormalizedCacheOptions } from "./options.js";

const log = debugFor("cache");

/** How a call was answered, for the local tier. */
export interface Answer {
  value: unknown;
  /** The entry it came from, when it came from Redis or was stored there. */
  entry: StoredEntry | undefined;
}

/**
 * A caller's answer from `loading` (the key's load, begun at `started`): its value; the stale
 * value if it fails; or, once `loaderTimeout.soft` (with a stale value) or `loaderTimeout.hard`
 * (without) is up, the stale value or a LoaderTimeoutError while `loading` goes on by itself and
 * fills the cache.
 */
export async function answerWithin(
  key: string,
  loading: Promise<Answer>,
  stale: StoredEntry | undefined,
  started: number,
  { softTimeoutMs, hardTimeoutMs }: Pick<NormalizedCacheOptions, "softTimeoutMs" | "hardTimeoutMs">,
  counters: CacheCounters,
): Promise<Answer> {
  const limit = stale === undefined ? hardTimeoutMs : softTimeoutMs;
  const left = limit === undefined ? Infinity : started + limit - Date.now();
  // Up already (a soft timeout of 0: stale-while-revalidate): answered without waiting at all.
  if (left <= 0) return lateAnswer(key, loading, stale, limit ?? 0, counters);
  const outcome = loading.then(
    (answer) => ({ answer }),
    (error: unknown) => ({ error }),
  );
  let timer: NodeJS.Timeout | undefined;
  let settled: { answer: Answer } | { error: unknown } | undefined;
  try {
    settled = await (left === Infinity
      ? outcome
      : Promise.race([
          outcome,
          new Promise<undefined>((resolve) => {
            timer = setTimeout(() => resolve(undefined), left);
          }),
        ]));
  } finally {
    clearTimeout(timer);
  }
  if (settled === undefined) return lateAnswer(key, loading, stale, limit ?? 0, counters);
  if ("answer" in settled) return settled.answer;
  if (stale === undefined) throw settled.error;
  counters.servedStale(key, "loader-failed", settled.error);
  return { value: stale.value, entry: undefined };
}

/** timedOut, for a call whose `loading` goes on by itself and fills the cache. */
function lateAnswer(
  key: string,
  loading: Promise<Answer>,
  stale: StoredEntry | undefined,
  limit: number,
  counters: CacheCounters,
): Answer {
  // Its failure is only logged: the caller has its answer.
  loading.catch((error: unknown) => log("a load answered late failed: %s", String(error)));
  return timedOut(key, stale, limit, counters);
}

/** The answer of a call whose timeout is up: the stale value, or a LoaderTimeoutError. */
export function timedOut(
  key: string,
  stale: StoredEntry | undefined,
  limit: number,
  counters: CacheCounters,
): Answer {
  if (stale === undefined) throw new LoaderTimeoutError(key, limit);
  counters.servedStale(key, "refreshing");
  return { value: stale.value, entry: undefined };
}
