import { expect, test } from "vitest";
import { Browser } from "../../harness/Browser.js";
import { pollUntil } from "../../harness/poll.js";
import { useDemoCatalogue } from "./demoCatalogue.js";

// The demo's product catalogue, through HAProxy and two instances: PostgreSQL behind the DB
// cache. The synthetic users only look at products 1–200; these tests use others.

const catalogue = useDemoCatalogue(["--instances", "2"]);
const { read } = catalogue;

/** The row as PostgreSQL holds it now. */
async function row(id: number): Promise<{ priceCents: number; name: string }> {
  const { rows } = await catalogue.db.query<{ price_cents: number; name: string }>(
    "SELECT price_cents, name FROM products WHERE id = $1",
    [id],
  );
  const [found] = rows;
  if (found === undefined) throw new Error(`no product ${id}`);
  return { priceCents: found.price_cents, name: found.name };
}

/** Product reads PostgreSQL has run so far (pg_stat_statements, counted by the database). */
async function productReads(): Promise<number> {
  const { rows } = await catalogue.db.query<{ calls: string | null }>(
    "SELECT sum(calls) AS calls FROM pg_stat_statements WHERE query LIKE '%FROM products, pause%'",
  );
  return Number(rows[0]?.calls ?? 0);
}

async function loggedIn(): Promise<Browser> {
  const browser = new Browser();
  const response = await browser.request(`${catalogue.demo.info.url}/login`, {
    method: "POST",
    json: { username: "alice", password: "alice-demo-password" },
  });
  expect(response.status).toBe(200);
  return browser;
}

test("a cold product is read from PostgreSQL once, then every instance answers from the cache", async () => {
  const before = await productReads();
  const first = await read(501);
  expect(first.cache).toBe("miss");
  expect(first.product).toMatchObject(await row(501));
  const again = await Promise.all(Array.from({ length: 8 }, () => read(501)));
  expect(again.map((answer) => answer.cache)).toEqual(Array(8).fill("hit"));
  expect(new Set(again.map((answer) => answer.instance))).toEqual(new Set(["app-1", "app-2"]));
  for (const answer of again) expect(answer.product).toEqual(first.product);
  expect((await productReads()) - before).toBe(1);
});

test("20 concurrent reads of a cold product on a slow database: 1 database read for both instances", async () => {
  await catalogue.demo.control("/api/database/slow", { delayMs: 400 });
  try {
    expect((await catalogue.demo.state()).database.readDelayMs).toBe(400);
    const before = await productReads();
    const answers = await Promise.all(Array.from({ length: 20 }, () => read(502)));
    const reads = (await productReads()) - before;
    console.log(
      `20 concurrent cold reads: ${reads} database read, ` +
        `${answers.filter((answer) => answer.cache === "miss").length} miss, answered by ` +
        `${new Set(answers.map((answer) => answer.instance)).size} instances`,
    );
    expect(reads).toBe(1);
    expect(answers.filter((answer) => answer.cache === "miss")).toHaveLength(1);
    expect(new Set(answers.map((answer) => answer.instance)).size).toBe(2);
    expect(new Set(answers.map((answer) => answer.product.priceCents))).toEqual(
      new Set([(await row(502)).priceCents]),
    );
    // The delay is the database's: a miss waits it out, a hit does not.
    const miss = await read(503);
    const hit = await read(503);
    expect(miss).toMatchObject({ cache: "miss" });
    expect(miss.ms).toBeGreaterThanOrEqual(400);
    expect(hit).toMatchObject({ cache: "hit" });
    expect(hit.ms).toBeLessThan(400);
  } finally {
    await catalogue.demo.control("/api/database/slow", { delayMs: 0 });
  }
});

test("PUT writes through: PostgreSQL and every instance have the new price at once, though both held the old one", async () => {
  const id = 504;
  const old = await read(id);
  // Both instances hold it now, in Redis and in their local tier.
  await Promise.all(Array.from({ length: 4 }, () => read(id)));
  const browser = await loggedIn();
  const priceCents = old.product.priceCents + 1;
  const put = await browser.request(`${catalogue.demo.info.url}/api/products/${id}`, {
    method: "PUT",
    json: { priceCents },
  });
  expect(put.status).toBe(200);
  expect(put.body).toMatchObject({ product: { id, priceCents } });
  expect((await row(id)).priceCents).toBe(priceCents);
  const after = await Promise.all(Array.from({ length: 8 }, () => read(id)));
  expect(after.map((answer) => answer.product.priceCents)).toEqual(Array(8).fill(priceCents));
  expect(new Set(after.map((answer) => answer.instance)).size).toBe(2);
  // The write-through left the new value in the cache: no database read for it.
  expect(after.map((answer) => answer.cache)).toEqual(Array(8).fill("hit"));
});

test("bad product requests: 400 naming what is wrong, 401 logged out, 404 for no such product", async () => {
  const browser = await loggedIn();
  const put = (id: string, json: unknown, as = browser) =>
    as.request(`${catalogue.demo.info.url}/api/products/${id}`, { method: "PUT", json });
  await expect(put("505", { priceCents: -1 })).resolves.toMatchObject({
    status: 400,
    body: { error: "priceCents must be a whole number from 0 to 100000000" },
  });
  await expect(put("505", { colour: "red" })).resolves.toMatchObject({
    status: 400,
    body: { error: "unknown field colour" },
  });
  await expect(put("505", {})).resolves.toMatchObject({
    status: 400,
    body: { error: "nothing to change" },
  });
  await expect(put("505", { priceCents: 1 }, new Browser())).resolves.toMatchObject({
    status: 401,
  });
  await expect(put("999999", { priceCents: 1 })).resolves.toMatchObject({ status: 404 });
  await expect(put("1e3", { priceCents: 1 })).resolves.toMatchObject({ status: 400 });
  expect((await fetch(`${catalogue.demo.info.url}/api/products/0`)).status).toBe(400);
  expect((await fetch(`${catalogue.demo.info.url}/api/products/5000`)).status).toBe(404);
  // The refused changes changed nothing.
  expect((await read(505)).product).toMatchObject(await row(505));
});

test("the panel's flush: the next read of a cached product goes to the database, and the chart marks it", async () => {
  expect((await read(506)).cache).toBe("miss");
  expect((await read(506)).cache).toBe("hit");
  await catalogue.demo.control("/api/cache/flush");
  expect((await read(506)).cache).toBe("miss");
  const { events } = await catalogue.demo.history();
  expect(events.map(({ label }) => label)).toContain(
    "flushed the cache: every product invalidated",
  );
});

test("synthetic users' product reads show on the panel: hits, misses and the database's queries/s", async () => {
  await catalogue.demo.control("/api/cache/flush");
  await catalogue.demo.control("/api/users", { count: 10 });
  try {
    const samples = await pollUntil(
      "samples with cache hits and database queries",
      async () => {
        const { samples } = await catalogue.demo.history();
        const hits = samples.reduce((sum, sample) => sum + sample.cacheHits, 0);
        const misses = samples.reduce((sum, sample) => sum + sample.cacheMisses, 0);
        const queries = samples.filter((sample) => (sample.dbQueries ?? 0) > 0).length;
        return hits > 20 && misses > 0 && queries > 0 && samples;
      },
      { timeoutMs: 30_000, intervalMs: 1_000 },
    );
    const last = samples.slice(-5);
    console.log(
      `last 5 s of the panel: ${last.map((s) => `${s.cacheHits} hits/${s.cacheMisses} misses/${String(s.dbQueries)} queries`).join(", ")}`,
    );
    expect(samples.reduce((sum, sample) => sum + sample.errors, 0)).toBe(0);
  } finally {
    await catalogue.demo.control("/api/users", { count: 0 });
  }
});
