import type { WaitContext } from "./deadline.js";

/**
 * What one operation may still wait for Redis, spent by each command it sends: one bound for all
 * of an operation's commands, however many it needs — a session request's (its read, its route's
 * saves, the response's write) or a cache call's. Made by a Keyspace; spent by its `bounded`.
 */
export class Budget {
  constructor(
    /** What is left, in ms; at most `fullMs`. */
    public remainingMs: number,
    /** The bound it started with. */
    readonly fullMs: number,
    /** What set the bound, and the connection a failed wait is explained by. */
    readonly context: WaitContext,
    /** Whose budget, as an error names it: "request", "call". */
    readonly of: string,
  ) {}

  /** Counts `ms` waited outside `bounded` (a read made before the request was known). */
  charge(ms: number): void {
    this.remainingMs -= ms;
  }

  /** What a command does, as its error names it: with what was left, once some was spent. */
  label(what: string): string {
    return this.remainingMs < this.fullMs
      ? `${what} in what the ${this.of} had left of its wait`
      : what;
  }
}
