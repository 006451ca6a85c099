import pg from "pg";
import { afterAll, beforeAll, expect } from "vitest";
import { LaunchedDemo } from "./launchDemo.js";

/** What the demo's `GET /api/products/:id` answers. */
export interface ProductAnswer {
  product: { id: number; name: string; priceCents: number; stock: number; updatedAt: string };
  cache: "hit" | "miss" | "stale";
  ms: number;
  instance: string;
}

/**
 * The demo launched with `args` for the file's tests, no synthetic users clicking, and a client
 * of its PostgreSQL; both stopped after the file. `read(id)` is a product's answer (200 asserted).
 */
export function useDemoCatalogue(args: string[]): {
  readonly demo: LaunchedDemo;
  readonly db: pg.Client;
  read: (id: number) => Promise<ProductAnswer>;
} {
  let demo: LaunchedDemo | undefined;
  let db: pg.Client | undefined;
  beforeAll(async () => {
    demo = await LaunchedDemo.start(args);
    await demo.control("/api/users", { count: 0 });
    db = new pg.Client(`postgres://demo@127.0.0.1:${demo.info.database.port}/demo`);
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await demo?.interrupt();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error("the demo is not started (used outside a test?)");
    return value;
  };
  return {
    get demo() {
      return started(demo);
    },
    get db() {
      return started(db);
    },
    read: async (id) => {
      const response = await fetch(`${started(demo).info.url}/api/products/${id}`);
      expect(response.status).toBe(200);
      return (await response.json()) as ProductAnswer;
    },
  };
}
