import type { RedisCache } from "../cache/RedisCache.js";
import { describe } from "../redis/options/validate.js";
import type { RedisSessionStore } from "../session/RedisSessionStore.js";

/** What an exporter reports: a session store, a DB cache, or both. */
export interface MetricSources {
  store?: RedisSessionStore | undefined;
  cache?: RedisCache | undefined;
}

/**
 * Checks an exporter's `store` and `cache` as plain JavaScript may pass them: at least one, each
 * with `stats()`.
 * @throws TypeError naming `caller` and the option
 */
export function checkSources(caller: string, { store, cache }: MetricSources): void {
  if (store === undefined && cache === undefined) {
    throw new TypeError(`${caller}: give a \`store\`, a \`cache\`, or both`);
  }
  for (const [option, value] of [
    ["store", store],
    ["cache", cache],
  ] as const) {
    if (value !== undefined && typeof (value as { stats?: unknown }).stats !== "function") {
      throw new TypeError(
        `${caller}: \`${option}\` must be a RedisSessionStore or RedisCache; got ${describe(value)}`,
      );
    }
  }
}
