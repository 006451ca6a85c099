import { setTimeout as delay } from "node:timers/promises";
import { RedisUnavailableError } from "../errors/RedisUnavailableError.js";

import { RetryableError } from "../errors/internal/RetryableError.js";

/**
 * Redis error replies that a failover or restart produces and that clear up by themselves, by
 * their first word, with why: retried until the deadline.
 */
const TRANSIENT_REPLIES: Readonly<Record<string, string>> = {
  LOADING: "a restarted or newly promoted master is loading its data set",
  READONLY: "the master was demoted; the client reconnects to the new one",
  MASTERDOWN: "a replica lost its master",
  NOREPLICAS: "min-replicas-to-write, while replicas reconnect",
  TRYAGAIN: "a Cluster slot is being migrated",
  CLUSTERDOWN: "a Cluster is failing a shard over",
  MOVED:
    "a Cluster slot moved to a new master (seen on the writer connections, which do not follow it)",
  ASK: "a Cluster slot is being migrated (seen on the writer connections)",
  BUSY: "a script runs past lua-time-limit",
};

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

export function isTransient(error: unknown): boolean {
  if (error instanceof RetryableError) return true;
  if (!(error instanceof Error)) return false;
  const { message } = error;
  const firstWord = message.slice(0, message.search(/\s|$/));
  return (
    Object.hasOwn(TRANSIENT_REPLIES, firstWord) ||
    TRANSIENT_CONNECTION_ERRORS.some((text) => message.includes(text))
  );
}

const RETRY_DELAY_MS = 100;

/**
 * Runs `attempt` until it succeeds, retrying transient errors every 100 ms, for at most `waitMs`
 * in all; then fails with RedisUnavailableError. A command that never answers (a frozen
 * master, Redis down and the command queued) counts the same as one that errs.
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
  attempt: (deadline: number) => Promise<T>,
  onRetry?: () => void,
): Promise<T> {
  const deadline = Date.now() + waitMs;
  // The first attempt outside an async function and with one promise of its own: on every
  // request it is the only one, and this runs for every command.
  return new Promise<T>((resolve, reject) => {
    const watch = new Watch(deadline, what, waitMs, reject);
    attempt(deadline).then(
      (value) => {
        if (watch.end()) resolve(value);
      },
      (error: unknown) => {
        if (watch.end()) {
          retryUntil(what, waitMs, deadline, attempt, error, onRetry).then(resolve, reject);
        }
      },
    );
  });
}

async function retryUntil<T>(
  what: string,
  waitMs: number,
  deadline: number,
  attempt: (deadline: number) => Promise<T>,
  firstError: unknown,
  onRetry: (() => void) | undefined,
): Promise<T> {
  let error = firstError;
  let lastError: unknown;
  for (;;) {
    if (error instanceof TimedOut) break;
    if (!isTransient(error)) throw error;
    lastError = error;
    if (deadline - Date.now() <= RETRY_DELAY_MS) break;
    await delay(RETRY_DELAY_MS);
    onRetry?.();
    try {
      return await raceDeadline(attempt(deadline), deadline);
    } catch (next) {
      error = next;
    }
  }
  throw unavailable(what, waitMs, lastError);
}

function unavailable(what: string, waitMs: number, lastError: unknown): RedisUnavailableError {
  const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
  return new RedisUnavailableError(
    `Redis did not complete the ${what} within ${waitMs} ms (option \`unavailable.waitMs\`)${detail}`,
    { cause: lastError },
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
    const { what } = this;
    this.reject(what === undefined ? new TimedOut() : unavailable(what, this.waitMs, undefined));
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
    const watch = new Watch(deadline, undefined, 0, reject);
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
