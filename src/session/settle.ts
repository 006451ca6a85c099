import { debugFor } from "../redis/debug.js";

const log = debugFor("store");

/** The callback shape express-session passes to store methods. */
export type Callback<T = void> = (error?: unknown, value?: T) => void;

/** Hands a promise's outcome to an express-session callback, outside the promise chain. */
export function settle<T>(promise: Promise<T>, callback: Callback<T> | undefined): void {
  promise.then(
    (value) => {
      if (callback) process.nextTick(callback, null, value);
    },
    (error: unknown) => {
      if (callback) process.nextTick(callback, error);
      else log("store operation failed without a callback: %O", error);
    },
  );
}

/**
 * A store method's answer: the promise itself when no callback was given (connect-redis 8+'s
 * convention: an error rejects it), else the outcome handed to the callback and nothing returned.
 */
export function answer<T>(
  promise: Promise<T>,
  callback: Callback<T> | undefined,
): Promise<T> | undefined {
  if (callback === undefined) return promise;
  settle(promise, callback);
  return undefined;
}
