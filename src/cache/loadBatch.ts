/**
 * What a bulk loader may return for the keys it was given: a Map or an object by key, or an array
 * in the keys' order. A key it leaves out gets `undefined` (returned, not cached).
 */
export type BulkLoaded<T> = ReadonlyMap<string, T> | Readonly<Record<string, T>> | readonly T[];

/** A bulk call's loads wait at most this long for the rest of its keys' answers from Redis. */
const GATHER_MS = 5;

/**
 * The one-key loads of a bulk call (`getOrLoadMany` of `keys`), gathered into calls of its
 * bulk loader: once every key is either answered without a load (`answered()`) or due to load
 * (`load(key)`) — on a Cluster the nodes' replies come apart — or `GATHER_MS` after the first key
 * fell due, whichever is first, the keys due go to the database in one call.
 */
export class LoadBatch<T> {
  #pending: {
    key: string;
    resolve: (value: T | undefined) => void;
    reject: (error: unknown) => void;
  }[] = [];
  #accounted = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly loader: (keys: string[]) => Promise<BulkLoaded<T>> | BulkLoaded<T>,
    /** The bulk call's keys: a batch goes to the loader in their order. */
    private readonly keys: readonly string[],
  ) {}

  load(key: string): Promise<T | undefined> {
    return new Promise<T | undefined>((resolve, reject) => {
      this.#pending.push({ key, resolve, reject });
      this.#timer ??= setTimeout(() => void this.#flush(), GATHER_MS);
      this.answered();
    });
  }

  /** A key is accounted for: answered without a load, or (from load) due to load. */
  answered(): void {
    this.#accounted++;
    if (this.#accounted >= this.keys.length && this.#pending.length > 0) void this.#flush();
  }

  async #flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    if (batch.length > 1) {
      const order = new Map(this.keys.map((key, i) => [key, i]));
      batch.sort((a, b) => (order.get(a.key) ?? 0) - (order.get(b.key) ?? 0));
    }
    try {
      const loaded = await this.loader(batch.map(({ key }) => key));
      for (const [i, { key, resolve }] of batch.entries()) resolve(pick(loaded, key, i));
    } catch (error) {
      for (const { reject } of batch) reject(error);
    }
  }
}

function pick<T>(loaded: BulkLoaded<T>, key: string, index: number): T | undefined {
  const given: unknown = loaded;
  if (given instanceof Map) return (given as ReadonlyMap<string, T>).get(key);
  if (Array.isArray(given)) return (given as readonly T[])[index];
  if (typeof given === "object" && given !== null) {
    return Object.hasOwn(given, key) ? (given as Readonly<Record<string, T>>)[key] : undefined;
  }
  throw new TypeError(
    "getOrLoadMany's loader must return a Map, an object by key or an array in the keys' order; " +
      `got ${typeof given}`,
  );
}
