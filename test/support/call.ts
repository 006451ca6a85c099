/** A store method that takes an express-session callback, as a promise of what it gives back. */
export function call<T>(run: (done: (error?: unknown, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    run((error, value) => {
      if (error instanceof Error) reject(error);
      else if (error) reject(new Error("store callback failed with a non-Error"));
      else resolve(value as T);
    });
  });
}
