import type { Cluster, Redis } from "ioredis";

/**
 * Every key matching `pattern`, in batches, walked with SCAN (never KEYS, which blocks Redis).
 * On a Cluster each master is scanned, since a SCAN covers one node only.
 */
export async function* scanKeys(
  client: Redis | Cluster,
  pattern: string,
): AsyncGenerator<string[]> {
  const nodes = client.isCluster ? (client as Cluster).nodes("master") : [client as Redis];
  for (const node of nodes) {
    let cursor = "0";
    do {
      const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) yield keys;
    } while (cursor !== "0");
  }
}

/** `pattern` with Redis glob characters escaped, so a prefix matches only itself. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}
