import { debugFor, fingerprint } from "../debug.js";
import type { StoreCounters } from "../stats.js";

/** Keys reported, at most this many remembered (each is reported once). */
const REPORTED_LIMIT = 1_000;

/**
 * Keys that hold something their user did not write there: counted, and logged once per key by
 * a hash of the key — never the key, which for a session holds its id.
 */
export class CorruptKeys {
  readonly #reported = new Set<string>();
  readonly #log: ReturnType<typeof debugFor>;

  constructor(
    /** What the data is called: "session", "cache". */
    private readonly name: string,
    /** The `debug` namespace reports go to. */
    namespace: string,
    private readonly counters: StoreCounters,
  ) {
    this.#log = debugFor(namespace);
  }

  report(key: string, why: string): void {
    this.counters.corrupt++;
    if (this.#reported.has(key)) return;
    if (this.#reported.size >= REPORTED_LIMIT) this.#reported.clear();
    this.#reported.add(key);
    this.#log(`corrupt ${this.name} data at %s taken as none: %s`, fingerprint(key), why);
  }
}
