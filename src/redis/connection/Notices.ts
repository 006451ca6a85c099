/** Problems remembered as said, at most this many (then all are forgotten and may be said again). */
const REMEMBERED = 100;

/**
 * What an operator must hear of without `DEBUG`: a misconfiguration, Redis unreachable at start,
 * durability that cannot be met. One line per distinct problem, on `console.warn`, prefixed with
 * the library's name; said again only once it has cleared.
 */
export class Notices {
  readonly #said = new Set<string>();

  constructor(private readonly warn: (line: string) => void = defaultWarn) {}

  /** Says `message`, unless the problem `kind` (default: the message) was said and not cleared. */
  once(message: string, kind = message): void {
    if (this.#said.has(kind)) return;
    if (this.#said.size >= REMEMBERED) this.#said.clear();
    this.#said.add(kind);
    this.warn(`redis-ha-session: ${message}`);
  }

  /** Whether the problem `kind` was said and has not cleared. */
  said(kind: string): boolean {
    return this.#said.has(kind);
  }

  /** The problem `kind` cleared: it is said again if it comes back. */
  cleared(kind: string): void {
    this.#said.delete(kind);
  }
}

function defaultWarn(line: string): void {
  console.warn(line);
}
