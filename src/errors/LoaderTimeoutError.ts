/**
 * A cache loader did not finish within `loaderTimeout.hard`, and there was no expired value to
 * answer instead. The load goes on and fills the cache when it finishes: a later call may find
 * the value. Answer without it (a degraded page, a 503), or raise the timeout.
 */
export class LoaderTimeoutError extends Error {
  override readonly name = "LoaderTimeoutError";

  constructor(
    readonly key: string,
    readonly timeoutMs: number,
  ) {
    super(
      `the loader for cache key "${key.slice(0, 80)}" did not finish within ${timeoutMs} ms ` +
        "(option `loaderTimeout.hard`); it goes on and fills the cache when it finishes",
    );
  }
}
