import type { Redis } from "ioredis";

/**
 * Runs one command of a longer walk within its wait bound (retried through a failover: a SCAN
 * step is sent again with the same cursor).
 */
export type BoundStep = <T>(what: string, attempt: () => Promise<T>) => Promise<T>;

/**
 * Every key on one node matching `pattern`, in batches, walked with SCAN (never KEYS, which
 * blocks Redis), each step within `bound`.
 */
export async function* scanNode(
  node: Redis,
  pattern: string,
  bound: BoundStep,
): AsyncGenerator<string[]> {
  let cursor = "0";
  do {
    const from = cursor;
    const [next, keys] = await bound("key scan", () =>
      node.scan(from, "MATCH", pattern, "COUNT", 1000),
    );
    cursor = next;
    if (keys.length > 0) yield keys;
  } while (cursor !== "0");
}

/** `pattern` with Redis glob characters escaped, so a prefix matches only itself. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}
