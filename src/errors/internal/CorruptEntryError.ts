/** Internal: a cache key holding something the cache did not write. The cache treats it as a miss. */
export class CorruptEntryError extends Error {
  override readonly name = "CorruptEntryError";
}
