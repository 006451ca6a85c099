import { setTimeout as delay } from "node:timers/promises";
import { RedisUnavailableError } from "../../errors/RedisUnavailableError.js";

import { RetryableError } from "../../errors/internal/RetryableError.js";
import { isConfigurationError, isTransientReply } from "./replies.js";

/** What a connection's users are told of it when a wait fails. */
export interface ConnectionState {
  /** A configuration error that refuses every command (a database that does not exist). */
  readonly refusal: Error | undefined;
  /** The last error of the connection since it was last ready (ECONNREFUSED, WRONGPASS, …). */
  readonly lastError: Error | undefined;
  /** A command failed with a configuration error (WRONGPASS, NOAUTH, NOPERM): report it. */
  misconfigured(error: Error): void;
}

/** What bounds a wait, for what it does and for its errors. */
export interface WaitContext {
  /** What set the bound, as an error names it: "option `unavailable.waitMs`". */
  readonly setBy: string;
  /** The connection waited for, whose errors explain a wait that failed. */
  readonly connection?: ConnectionState | undefined;
  /** Called before each retry. */
  readonly onRetry?: (() => void) | undefined;
}

/** What ioredis and Node.js say of a connection that went away, retried the same way. */
const TRANSIENT_CONNECTION_ERRORS = [
  "Connection is closed",
  "Command aborted due to connection close",
  "Stream isn't writeable",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  // A frozen node's connection, given up (socketTimeout).
  "Socket timeout",
  // ioredis' Cluster ran out of redirections (16 × 100 ms) before a failover was over: within the
  // wait bound the command is sent again.
  "Too many Cluster redirections",
  "Failed to refresh slots cache",
] as const;

/** Whether a wait may cure `error`: a transient reply (see replies.ts) or a lost connection. */
export function isTransient(error: unknown): boolean {
  if (error instanceof RetryableError) return true;
  if (!(error instanceof Error)) return false;
  const { message } = error;
  return (
    isTransientReply(error) || TRANSIENT_CONNECTION_ERRORS.some((text) => message.includes(text))
  );
}

const RETRY_DELAY_MS = 100;

/**
 * Runs `attempt` until it succeeds, retrying transient errors every 100 ms, for at most `waitMs`
 * in all; then fails with RedisUnavailableError naming what set the bound and the last error
 * (the attempt's, else the connection's). A command that never answers (a frozen master, Redis
 * down and the command queued) counts the same as one that errs. A connection refused for its
 * configuration, or a command refused for it, fails at once.
 *
 * Two phases. The first attempt, on every command, costs one promise and an entry in the shared
 * deadline sweep (no timer of its own, no async function). Only once it fails does `retryUntil`
 * take over: it retries transient errors every RETRY_DELAY_MS, each attempt raced against the
 * same deadline, and stops RETRY_DELAY_MS short of it rather than start an attempt it cannot
 * wait for.
 */
export function withinDeadline<T>(
  what: string,
  waitMs: number,
  context: WaitContext,
  attempt: (deadline: number) => Promise<T>,
): Promise<T> {
  const refusal = context.connection?.refusal;
  if (refusal !== undefined) return Promise.reject(refused(what, refusal));
  const deadline = Date.now() + waitMs;
  // The first attempt outside an async function and with one promise of its own: on every
  // request it is the only one, and this runs for every command.
  return new Promise<T>((resolve, reject) => {
    const watch = new Watch(deadline, what, waitMs, context, reject);
    attempt(deadline).then(
      (value) => {
        if (watch.end()) resolve(value);
      },
      (error: unknown) => {
        if (watch.end()) {
          retryUntil(what, waitMs, deadline, context, attempt, error).then(resolve, reject);
        }
      },
    );
  });
}

async function retryUntil<T>(
  what: string,
  waitMs: number,
  deadline: number,
  context: WaitContext,
  attempt: (deadline: number) => Promise<T>,
  firstError: unknown,
): Promise<T> {
  let error = firstError;
  let lastError: unknown;
  for (;;) {
    if (error instanceof TimedOut) break;
    if (isConfigurationError(error)) {
      context.connection?.misconfigured(error as Error);
      throw refused(what, error as Error);
    }
    if (!isTransient(error)) throw error;
    lastError = error;
    if (deadline - Date.now() <= RETRY_DELAY_MS) break;
    await delay(RETRY_DELAY_MS);
    const refusal = context.connection?.refusal;
    if (refusal !== undefined) throw refused(what, refusal);
    context.onRetry?.();
    try {
      return await raceDeadline(attempt(deadline), deadline);
    } catch (next) {
      error = next;
    }
  }
  throw unavailable(what, waitMs, context, lastError);
}

function unavailable(
  what: string,
  waitMs: number,
  { setBy, connection }: WaitContext,
  lastError: unknown,
): RedisUnavailableError {
  const cause = lastError instanceof Error ? lastError : connection?.lastError;
  const detail = cause === undefined ? "" : ` (last error: ${cause.message})`;
  return new RedisUnavailableError(
    `Redis did not complete the ${what} within ${waitMs} ms (${setBy})${detail}`,
    { cause },
  );
}

/** A command refused for the connection's configuration: no wait would help. */
function refused(what: string, cause: Error): RedisUnavailableError {
  return new RedisUnavailableError(
    `Redis refused the ${what} (a configuration error; see the message the library logged): ` +
      cause.message,
    { cause },
  );
}

class TimedOut extends Error {}

/** How often pending attempts are checked against their deadlines. */
const SWEEP_MS = 20;

/**
 * The deadlines of attempts in flight, checked by one timer rather than one timer each: a
 * per-command timer costs more than the command on a busy app. The timer runs only while some
 * attempt is pending, so a deadline is noticed at most SWEEP_MS late.
 */
const pending = new Set<Watch>();
let sweeper: NodeJS.Timeout | undefined;

/** One attempt in flight, failed by the sweeper once its deadline passes. */
class Watch {
  constructor(
    readonly deadline: number,
    /** What the attempt does, for the error; undefined: fail with TimedOut (a retry). */
    private readonly what: string | undefined,
    private readonly waitMs: number,
    private readonly context: WaitContext | undefined,
    private readonly reject: (error: Error) => void,
  ) {
    pending.add(this);
    sweeper ??= setInterval(sweep, SWEEP_MS).unref();
  }

  /** The attempt settled: false when its deadline had already failed it. */
  end(): boolean {
    return pending.delete(this);
  }

  expire(): void {
    pending.delete(this);
    const { what, context } = this;
    this.reject(
      what === undefined || context === undefined
        ? new TimedOut()
        : unavailable(what, this.waitMs, context, undefined),
    );
  }
}

function sweep(): void {
  const now = Date.now();
  for (const watch of pending) if (watch.deadline <= now) watch.expire();
  if (pending.size === 0) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

/** A retry's attempt, failed with TimedOut at the deadline. */
function raceDeadline<T>(promise: Promise<T>, deadline: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const watch = new Watch(deadline, undefined, 0, undefined, reject);
    promise.then(
      (value) => {
        if (watch.end()) resolve(value);
      },
      (error: unknown) => {
        if (watch.end()) reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
