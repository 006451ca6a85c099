/** Problems remembered as said, at most this many (then all are forgotten and may be said again). */
const REMEMBERED = 100;

/**
 * Where a store's or a cache's notices go (its `logger` option): anything with a `warn` method
 * taking a message — `console`, a pino or winston logger.
 */
export interface Logger {
  warn(message: string): void;
}

/**
 * What an operator must hear of without `DEBUG`: a misconfiguration, Redis unreachable at start,
 * durability that cannot be met. One line per distinct problem, prefixed with the library's name,
 * to the `logger` of each user of the connection (`console.warn` when none gave one); said
 * again only once it has cleared.
 */
export class Notices {
  readonly #said = new Set<string>();
  /** The loggers of the connection's users, each with how many users gave it. */
  readonly #loggers = new Map<Logger, number>();

  /** A user of the connection gave `logger`: notices go to it until it is {@link remove}d. */
  add(logger: Logger | undefined): void {
    if (logger !== undefined) this.#loggers.set(logger, (this.#loggers.get(logger) ?? 0) + 1);
  }

  /** A user that gave `logger` is done. */
  remove(logger: Logger | undefined): void {
    const users = logger === undefined ? undefined : this.#loggers.get(logger);
    if (logger === undefined || users === undefined) return;
    if (users > 1) this.#loggers.set(logger, users - 1);
    else this.#loggers.delete(logger);
  }

  /** Says `message`, unless the problem `kind` (default: the message) was said and not cleared. */
  once(message: string, kind = message): void {
    if (this.#said.has(kind)) return;
    if (this.#said.size >= REMEMBERED) this.#said.clear();
    this.#said.add(kind);
    const line = `redis-ha-session: ${message}`;
    if (this.#loggers.size === 0) console.warn(line);
    for (const logger of this.#loggers.keys()) {
      try {
        logger.warn(line);
      } catch {
        // A logger that throws must not break what was being reported.
      }
    }
  }

  /** Whether the problem `kind` was said and has not cleared. */
  said(kind: string): boolean {
    return this.#said.has(kind);
  }

  /** The problem `kind` cleared: it is said again if it comes back. */
  cleared(kind: string): void {
    this.#said.delete(kind);
  }
}
