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
