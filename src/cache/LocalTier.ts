/** A value held in process. */
export interface LocalEntry {
  value: unknown;
  /** Date.now() past which it is not served. */
  expiresAt: number;
  tags: readonly string[] | undefined;
}

/**
 * The in-process tier: at most `maxEntries` values, least recently used dropped first (a Map
 * keeps insertion order; a hit moves its key to the end), each until its own expiry.
 */
export class LocalTier {
  readonly #entries = new Map<string, LocalEntry>();

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.#entries.size;
  }

  get(key: string, now: number): LocalEntry | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    if (entry.expiresAt <= now) return undefined;
    this.#entries.set(key, entry);
    return entry;
  }

  set(key: string, entry: LocalEntry): void {
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    if (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  /** Drops every value carrying `tag`. */
  deleteTag(tag: string): void {
    for (const [key, entry] of this.#entries) {
      if (entry.tags?.includes(tag) === true) this.#entries.delete(key);
    }
  }

  clear(): void {
    this.#entries.clear();
  }
}
