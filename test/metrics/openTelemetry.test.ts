import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import type { DataPoint, Histogram, MetricData } from "@opentelemetry/sdk-metrics";
import { afterAll, beforeAll, expect, test } from "vitest";
import { createCache, registerOpenTelemetryMetrics, RedisSessionStore } from "../../src/index.js";
import type { RedisCache } from "../../src/index.js";
import { useSentinel } from "../support/hooks.js";

// OpenTelemetry metrics against the SDK's own MeterProvider and a reader collecting in process:
// what a collection shows is what stats() says, and each operation's duration and each batch of
// durable writes is recorded. On Sentinel (a master and 2 replicas), where writes wait for WAIT.

const sentinel = useSentinel();
let store: RedisSessionStore;
let cache: RedisCache;
beforeAll(() => {
  store = new RedisSessionStore({ redis: sentinel.current.redisOption });
  cache = createCache({ redis: sentinel.current.redisOption, prefix: "otel:" });
});
afterAll(async () => {
  await store.close();
  await cache.close();
});

/** A reader that collects when asked (the SDK's base class; no exporter, no timer). */
class CollectingReader extends MetricReader {
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

async function collect(reader: CollectingReader): Promise<Map<string, MetricData>> {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  const metrics = new Map<string, MetricData>();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) metrics.set(metric.descriptor.name, metric);
  }
  return metrics;
}

/** The value of `name`'s data point with `attributes`. */
function point(metrics: Map<string, MetricData>, name: string, attributes = {}): unknown {
  const points = (metrics.get(name)?.dataPoints ?? []) as DataPoint<unknown>[];
  return points.find((p) => JSON.stringify(p.attributes) === JSON.stringify(attributes))?.value;
}

test("a collection shows the store's and the cache's stats, and the operations' durations", async () => {
  const reader = new CollectingReader();
  const provider = new MeterProvider({ readers: [reader] });
  const stop = registerOpenTelemetryMetrics(provider.getMeter("app"), { store, cache });
  try {
    const data = { cookie: { originalMaxAge: 60_000 } };
    await store.set("s1", data);
    await store.get("s1");
    await cache.getOrLoad("k", () => 1);
    await cache.getOrLoad("k", () => 1);
    await expect(cache.getOrLoad("bad", () => Promise.reject(new Error("down")))).rejects.toThrow();
    await cache.set("written", 1);
    const metrics = await collect(reader);
    const storeStats = store.stats();
    const cacheStats = cache.stats();
    expect(point(metrics, "redis_ha_session.session.refused", { reason: "unavailable" })).toBe(
      storeStats.unavailable,
    );
    expect(point(metrics, "redis_ha_session.session.failovers")).toBe(storeStats.failovers);
    expect(point(metrics, "redis_ha_session.session.degraded_masters")).toBe(0);
    expect(point(metrics, "redis_ha_session.cache.hits", { tier: "redis" })).toBe(1);
    expect(point(metrics, "redis_ha_session.cache.hits", { tier: "local" })).toBe(0);
    expect(point(metrics, "redis_ha_session.cache.misses")).toBe(cacheStats.misses);
    expect(point(metrics, "redis_ha_session.cache.loads")).toBe(2);
    expect(metrics.get("redis_ha_session.cache.loads")?.descriptor.unit).toBe("{call}");
    // One duration per operation, by outcome, in seconds.
    const duration = (attributes: object) =>
      point(metrics, "redis_ha_session.operation.duration", attributes) as Histogram | undefined;
    expect(duration({ operation: "session.set", outcome: "ok" })?.count).toBe(1);
    expect(duration({ operation: "session.get", outcome: "ok" })?.count).toBe(1);
    expect(duration({ operation: "cache.getOrLoad", outcome: "ok" })?.count).toBe(2);
    expect(duration({ operation: "cache.getOrLoad", outcome: "error" })?.count).toBe(1);
    const set = duration({ operation: "session.set", outcome: "ok" });
    expect(set?.sum).toBeGreaterThan(0);
    expect(set?.sum).toBeLessThan(5);
    expect(metrics.get("redis_ha_session.operation.duration")?.descriptor.unit).toBe("s");
    // Each batch of durable writes (one WAIT), by component, as stats() counted them.
    for (const [component, stats] of [
      ["session", storeStats],
      ["cache", cacheStats],
    ] as const) {
      const batches = point(metrics, "redis_ha_session.write.batch_size", { component }) as
        Histogram | undefined;
      expect(batches?.count).toBe(stats.writeBatchSize.count);
      expect(stats.writeBatchSize.count).toBeGreaterThan(0);
      const waits = point(metrics, "redis_ha_session.write.wait.duration", { component }) as
        Histogram | undefined;
      expect(waits?.count).toBe(stats.waitLatencyMs.count);
      expect(waits?.sum).toBeCloseTo(stats.waitLatencyMs.sum / 1_000, 3);
    }
  } finally {
    stop();
    await provider.shutdown();
  }
});

test("stopped: no more durations, and the counters are gone from the next collection", async () => {
  const reader = new CollectingReader();
  const provider = new MeterProvider({ readers: [reader] });
  const stop = registerOpenTelemetryMetrics(provider.getMeter("app"), { cache });
  stop();
  await cache.getOrLoad("after", () => 3);
  const metrics = await collect(reader);
  expect(point(metrics, "redis_ha_session.cache.loads")).toBeUndefined();
  expect(metrics.get("redis_ha_session.operation.duration")?.dataPoints ?? []).toEqual([]);
  await provider.shutdown();
});

test("plain JavaScript callers passing the wrong things get a TypeError naming the option", () => {
  const meter = new MeterProvider().getMeter("app");
  const call =
    (...args: unknown[]) =>
    () =>
      (registerOpenTelemetryMetrics as (...given: unknown[]) => unknown)(...args);
  expect(call({}, { store })).toThrow(/`meter` must be an OpenTelemetry Meter/);
  expect(call(meter, {})).toThrow(/give a `store`, a `cache`, or both/);
  expect(call(meter, { cache: "cache" })).toThrow(
    /`cache` must be a RedisSessionStore or RedisCache/,
  );
});
