import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as delay } from "node:timers/promises";

/** One read the database served. */
export interface DatabaseRead {
  key: string;
  /** The cache process that asked. */
  instance: string;
  at: number;
}

/**
 * A stand-in for the database behind the cache, in the test's process, reached over HTTP by the
 * cache processes' loaders: rows by key (`GET /rows/<key>?instance=…` answers `{ value }` after
 * `delayMs`; `PUT` sets one), counting every read and how many run at once.
 */
export class FakeDatabase {
  readonly rows = new Map<string, unknown>();
  readonly reads: DatabaseRead[] = [];
  delayMs = 0;
  inFlight = 0;
  maxInFlight = 0;
  /** Reads in flight at once at most, by the cache process that asked. */
  readonly maxInFlightBy = new Map<string, number>();
  readonly #inFlightBy = new Map<string, number>();
  readonly #listeners = new Set<(read: DatabaseRead) => void>();

  private constructor(private readonly server: Server) {}

  static async start(): Promise<FakeDatabase> {
    const server = createServer();
    const database = new FakeDatabase(server);
    server.on("request", (req, res) => {
      void database.#serve(req.method ?? "GET", req.url ?? "/", req).then(
        (body) => {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify(body));
        },
        (error: unknown) => {
          res.writeHead(500);
          res.end(String(error));
        },
      );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return database;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resolves with the next read. */
  nextRead(): Promise<DatabaseRead> {
    return new Promise((resolve) => {
      const listener = (read: DatabaseRead) => {
        this.#listeners.delete(listener);
        resolve(read);
      };
      this.#listeners.add(listener);
    });
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  async #serve(method: string, url: string, req: NodeJS.ReadableStream): Promise<unknown> {
    const parsed = new URL(url, "http://localhost");
    const key = decodeURIComponent(parsed.pathname.replace(/^\/rows\//, ""));
    if (method === "PUT") {
      let body = "";
      for await (const chunk of req) body += String(chunk);
      this.rows.set(key, (JSON.parse(body) as { value: unknown }).value);
      return { ok: true };
    }
    const read = { key, instance: parsed.searchParams.get("instance") ?? "?", at: Date.now() };
    this.reads.push(read);
    for (const listener of [...this.#listeners]) listener(read);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const mine = (this.#inFlightBy.get(read.instance) ?? 0) + 1;
    this.#inFlightBy.set(read.instance, mine);
    this.maxInFlightBy.set(
      read.instance,
      Math.max(this.maxInFlightBy.get(read.instance) ?? 0, mine),
    );
    try {
      if (this.delayMs > 0) await delay(this.delayMs);
      return { value: this.rows.get(key) ?? null };
    } finally {
      this.inFlight--;
      this.#inFlightBy.set(read.instance, (this.#inFlightBy.get(read.instance) ?? 1) - 1);
    }
  }
}
