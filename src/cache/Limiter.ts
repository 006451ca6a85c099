/**
 * At most `limit` calls at once; the others wait their turn, first come first served. Bounds what
 * one process asks of the database while Redis is unavailable.
 */
export class Limiter {
  #running = 0;
  readonly #queue: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  /** Calls running now (for tests and stats). */
  get running(): number {
    return this.#running;
  }

  async run<T>(call: () => Promise<T> | T): Promise<T> {
    if (this.#running >= this.limit) {
      await new Promise<void>((resolve) => this.#queue.push(resolve));
    } else {
      this.#running++;
    }
    try {
      return await call();
    } finally {
      const next = this.#queue.shift();
      if (next === undefined) this.#running--;
      else next();
    }
  }
}
