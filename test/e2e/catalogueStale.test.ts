import { setTimeout as delay } from "node:timers/promises";
import { expect, test } from "vitest";
import { pollUntil } from "../../harness/poll.js";
import { useDemoCatalogue } from "./demoCatalogue.js";

// The demo's catalogue with stale-while-revalidate, products fresh for 1 s (`--cache-ttl 1`): an
// expired product is answered at once, marked "stale", while one refresh reads PostgreSQL; the
// panel counts those answers for its chart.

const catalogue = useDemoCatalogue(["--instances", "2", "--cache-ttl", "1"]);
const { read } = catalogue;

test("an expired product on a slow database: answered at once as 'stale', then the refreshed one as a hit", async () => {
  expect((await read(601)).cache).toBe("miss");
  await catalogue.db.query("UPDATE products SET price_cents = price_cents + 1 WHERE id = 601");
  await catalogue.demo.control("/api/database/slow", { delayMs: 1_500 });
  try {
    await delay(1_200);
    const stale = await read(601);
    expect(stale.cache).toBe("stale");
    expect(stale.ms).toBeLessThan(500);
    const refreshed = await pollUntil(
      "the refreshed product",
      async () => {
        const answer = await read(601);
        return answer.cache === "hit" && answer.product.priceCents !== stale.product.priceCents
          ? answer
          : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    expect(refreshed.product.priceCents).toBe(stale.product.priceCents + 1);
  } finally {
    await catalogue.demo.control("/api/database/slow", { delayMs: 0 });
  }
});

test("synthetic users' reads of expiring products: the panel counts stale answers", async () => {
  await catalogue.demo.control("/api/users", { count: 10 });
  try {
    const samples = await pollUntil(
      "samples with stale answers",
      async () => {
        const { samples } = await catalogue.demo.history();
        const stale = samples.reduce((sum, sample) => sum + sample.cacheStale, 0);
        return stale > 0 && samples;
      },
      { timeoutMs: 30_000, intervalMs: 1_000 },
    );
    const totals = { hits: 0, misses: 0, stale: 0 };
    for (const sample of samples) {
      totals.hits += sample.cacheHits;
      totals.misses += sample.cacheMisses;
      totals.stale += sample.cacheStale;
    }
    console.log(`panel, products fresh 1 s: ${JSON.stringify(totals)}`);
    expect(samples.reduce((sum, sample) => sum + sample.errors, 0)).toBe(0);
  } finally {
    await catalogue.demo.control("/api/users", { count: 0 });
  }
});
