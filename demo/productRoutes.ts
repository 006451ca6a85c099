import { Router } from "express";
import type { Request, Response } from "express";
import { RedisUnavailableError } from "redis-ha-session";
import type { RedisCache } from "redis-ha-session";
import { DatabaseUnavailableError } from "./catalogue.js";
import type { Catalogue, Product, ProductChanges } from "./catalogue.js";
import { productPage } from "./pages.js";

/** Where a product came from: the cache, or this request's own read of the database. */
/** How the cache answered a read: fresh, loaded from PostgreSQL, or expired while refreshed. */
export type CacheOutcome = "hit" | "miss" | "stale";

/** Every product is cached under this tag: the control panel's "flush the cache" invalidates it. */
export const PRODUCTS_TAG = "products";

export interface ProductRoutesOptions {
  cache: RedisCache;
  catalogue: Catalogue;
  instance: string;
  /** The logged-in user's name (edits need one). */
  userName: (req: Request) => string | undefined;
  csrfToken: (req: Request) => string;
}

const productKey = (id: number) => `product:${id}`;

/** A product id from the path: a whole number from 1 to 10⁹, else undefined. */
function productId(req: Request): number | undefined {
  const text = String(req.params.id);
  const id = Number(text);
  return /^[1-9][0-9]{0,8}$/.test(text) ? id : undefined;
}

/** What a PUT or the edit form may change, checked; a string saying what is wrong otherwise. */
function productChanges(body: unknown): ProductChanges | string {
  if (typeof body !== "object" || body === null) return "send a JSON object";
  const given = body as Record<string, unknown>;
  const changes: ProductChanges = {};
  for (const key of Object.keys(given)) {
    if (!["name", "priceCents", "stock", "_csrf"].includes(key)) return `unknown field ${key}`;
  }
  if (given.name !== undefined) {
    if (typeof given.name !== "string" || given.name.trim() === "" || given.name.length > 80)
      return "name must be 1 to 80 characters";
    changes.name = given.name.trim();
  }
  for (const key of ["priceCents", "stock"] as const) {
    const value = typeof given[key] === "string" ? Number(given[key]) : given[key];
    if (value === undefined || given[key] === "") continue;
    if (!Number.isSafeInteger(value) || (value as number) < 0 || (value as number) > 1e8)
      return `${key} must be a whole number from 0 to 100000000`;
    changes[key] = value as number;
  }
  return Object.keys(changes).length === 0 ? "nothing to change" : changes;
}

/**
 * The product catalogue: reads by lazy loading (`getOrLoad`: one database read per cold product
 * across every instance), edits by write-through. `api` needs no session; `pages` and the edits
 * run after the session middleware.
 */
export function productRoutes({
  cache,
  catalogue,
  instance,
  userName,
  csrfToken,
}: ProductRoutesOptions): { api: Router; pages: Router } {
  // Expired values the cache answered, by key: a read that saw this count move was answered one
  // (the calls joined to it in this process too).
  const staleAnswers = new Map<string, number>();
  cache.on("staleServed", ({ key }) => staleAnswers.set(key, (staleAnswers.get(key) ?? 0) + 1));
  const read = async (id: number) => {
    let outcome: CacheOutcome = "hit";
    const started = performance.now();
    const staleBefore = staleAnswers.get(productKey(id)) ?? 0;
    const product = await cache.getOrLoad(
      productKey(id),
      () => {
        outcome = "miss";
        return catalogue.read(id);
      },
      { tags: [PRODUCTS_TAG] },
    );
    // `outcome` may have been set to "miss" in the loader's closure meanwhile.
    const cached: CacheOutcome =
      (staleAnswers.get(productKey(id)) ?? 0) !== staleBefore ? "stale" : outcome;
    return { product, cache: cached, ms: Math.round((performance.now() - started) * 10) / 10 };
  };
  const write = (id: number, changes: ProductChanges): Promise<Product | null> =>
    cache.writeThrough(productKey(id), () => catalogue.update(id, changes), {
      tags: [PRODUCTS_TAG],
    });
  /** 503 with Retry-After when Redis or the database did not answer; false for other errors. */
  const unavailable = (res: Response, error: unknown): boolean => {
    if (!(error instanceof RedisUnavailableError || error instanceof DatabaseUnavailableError)) {
      return false;
    }
    res.set("Retry-After", "1").status(503).json({ error: error.message, instance });
    return true;
  };

  const api = Router();
  api.get("/api/products/:id", async (req, res) => {
    const id = productId(req);
    if (id === undefined) {
      res.status(400).json({ error: "a product id is a whole number from 1", instance });
      return;
    }
    try {
      const found = await read(id);
      if (found.product === null) res.status(404).json({ error: "no such product", instance });
      else res.json({ ...found, instance });
    } catch (error) {
      if (!unavailable(res, error)) throw error;
    }
  });

  const pages = Router();
  pages.put("/api/products/:id", async (req, res) => {
    const id = productId(req);
    const changes = productChanges(req.body);
    if (userName(req) === undefined) {
      res.status(401).json({ error: "not logged in", instance });
    } else if (id === undefined || typeof changes === "string") {
      res.status(400).json({ error: changes, instance });
    } else {
      try {
        const product = await write(id, changes);
        if (product === null) res.status(404).json({ error: "no such product", instance });
        else res.json({ product, instance });
      } catch (error) {
        if (!unavailable(res, error)) throw error;
      }
    }
  });
  pages.get("/products/:id", async (req, res) => {
    const id = productId(req);
    if (id === undefined) {
      res.status(404).send("No such product.");
      return;
    }
    const { product, ...found } = await read(id);
    if (product === null) {
      res.status(404).send("No such product.");
      return;
    }
    const editable = userName(req) !== undefined;
    res.send(productPage(instance, editable ? csrfToken(req) : undefined, { product, ...found }));
  });
  // The page's form (HTML forms cannot PUT).
  pages.post("/products/:id", async (req, res) => {
    const id = productId(req);
    const changes = productChanges(req.body);
    if (userName(req) === undefined) {
      res.redirect(303, "/login");
    } else if (id === undefined || typeof changes === "string") {
      res.status(400).send(`Not changed: ${typeof changes === "string" ? changes : "no id"}.`);
    } else {
      await write(id, changes);
      res.redirect(303, `/products/${id}`);
    }
  });
  return { api, pages };
}
