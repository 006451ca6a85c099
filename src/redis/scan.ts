import type { Redis } from "ioredis";

/** Every key on one node matching `pattern`, in batches, walked with SCAN (never KEYS, which blocks Redis). */
export async function* scanNode(node: Redis, pattern: string): AsyncGenerator<string[]> {
  let cursor = "0";
  do {
    const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) yield keys;
  } while (cursor !== "0");
}

/** `pattern` with Redis glob characters escaped, so a prefix matches only itself. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}
