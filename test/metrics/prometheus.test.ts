import { Registry } from "prom-client";
import { afterAll, beforeAll, expect, test } from "vitest";
import { createCache, registerPrometheusMetrics, RedisSessionStore } from "../../src/index.js";
import type { RedisCache } from "../../src/index.js";
import { useSingleNode } from "../support/hooks.js";

// The Prometheus exporter against prom-client's own registry: what a scrape shows is what the
// store's and the cache's stats() say, in Prometheus' text format.

const redis = useSingleNode();
let store: RedisSessionStore;
let cache: RedisCache;
beforeAll(() => {
  store = new RedisSessionStore({ redis: redis.current.url });
  cache = createCache({ redis: redis.current.url, prefix: "metrics:" });
});
afterAll(async () => {
  await store.close();
  await cache.close();
});

/** The value of the sample `name{labels}` in a scrape (labels as written, default ones first). */
function sample(text: string, name: string, labels = ""): number {
  const escaped = `${name}{${labels}`.replace(/[{}+.]/g, "\\$&");
  const line = new RegExp(`^${escaped}[^}]*\\} (\\S+)$`, "m").exec(text);
  return Number(line?.[1]);
}

test("a scrape shows the store's and the cache's stats, the cache's hits by tier", async () => {
  const data = { cookie: { originalMaxAge: 60_000 } };
  await store.set("s1", data);
  await store.get("s1");
  await cache.getOrLoad("k", () => 1);
  await cache.getOrLoad("k", () => 1);
  await cache.get("absent");
  const registry = new Registry();
  registry.setDefaultLabels({ instance: "app-1" });
  registerPrometheusMetrics(registry, { store, cache });
  const text = await registry.metrics();
  const storeStats = store.stats();
  const cacheStats = cache.stats();
  expect(text).toContain("# TYPE rhs_session_failovers_total counter");
  expect(sample(text, "rhs_session_failovers_total", 'instance="app-1"')).toBe(
    storeStats.failovers,
  );
  expect(sample(text, "rhs_session_unavailable_total")).toBe(storeStats.unavailable);
  expect(sample(text, "rhs_session_degraded_masters")).toBe(0);
  expect(text).toContain("# TYPE rhs_cache_hits_total counter");
  expect(sample(text, "rhs_cache_hits_total", 'tier="redis"')).toBe(cacheStats.hits);
  expect(cacheStats.hits).toBe(1);
  expect(sample(text, "rhs_cache_hits_total", 'tier="local"')).toBe(0);
  expect(sample(text, "rhs_cache_misses_total")).toBe(2);
  expect(sample(text, "rhs_cache_loads_total")).toBe(1);
  // Histograms in seconds, cumulative buckets ending at +Inf = count.
  expect(text).toContain("# TYPE rhs_session_wait_seconds histogram");
  const count = sample(text, "rhs_session_wait_seconds_count");
  expect(count).toBe(storeStats.waitLatencyMs.count);
  expect(sample(text, "rhs_session_wait_seconds_bucket", 'le="+Inf"')).toBe(count);
  expect(sample(text, "rhs_session_wait_seconds_bucket", 'le="0.001"')).toBe(
    storeStats.waitLatencyMs.buckets[0]?.count,
  );
  // prom-client parses its own output back: every line is well-formed.
  const json = await registry.getMetricsAsJSON();
  expect(json.map(({ name }) => name)).toContain("rhs_cache_stale_sets_refused_total");
});

test("values are read at each scrape; unregistering removes them", async () => {
  const registry = new Registry();
  const unregister = registerPrometheusMetrics(registry, { cache, prefix: "app_" });
  const before = sample(await registry.metrics(), "app_cache_loads_total");
  await cache.getOrLoad(`fresh-${Date.now()}`, () => 2);
  expect(sample(await registry.metrics(), "app_cache_loads_total")).toBe(before + 1);
  expect(await registry.metrics()).not.toContain("rhs_session_");
  unregister();
  expect((await registry.metrics()).trim()).toBe("");
});

test("plain JavaScript callers passing the wrong things get a TypeError naming the option", () => {
  const registry = new Registry();
  const call =
    (...args: unknown[]) =>
    () =>
      (registerPrometheusMetrics as (...given: unknown[]) => unknown)(...args);
  expect(call({}, { store })).toThrow(/`registry` must be a prom-client Registry; got an object/);
  expect(call(registry, {})).toThrow(/give a `store`, a `cache`, or both/);
  expect(call(registry, { store: {} })).toThrow(/`store` must be a RedisSessionStore/);
  expect(call(registry, { cache, prefix: "bad prefix" })).toThrow(/`prefix` must be/);
});
