import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { WRITE_BATCH_CHANNEL } from "../redis/stats.js";
import type { WriteBatch } from "../redis/stats.js";
import { describe } from "../redis/options/validate.js";
import { checkSources } from "./sources.js";
import type { MetricSources } from "./sources.js";
import { subscribeAll } from "./tracing.js";
import type { TraceContext } from "./tracing.js";

type Attributes = Record<string, string | number | boolean>;

/** What an observable instrument's callback is given (OpenTelemetry's ObservableResult). */
export interface OpenTelemetryObservation {
  observe(value: number, attributes?: Attributes): void;
}

/** An observable counter or gauge of an OpenTelemetry `Meter`. */
export interface OpenTelemetryObservable {
  addCallback(callback: (observation: OpenTelemetryObservation) => void): void;
  removeCallback(callback: (observation: OpenTelemetryObservation) => void): void;
}

interface InstrumentOptions {
  description?: string;
  unit?: string;
  advice?: { explicitBucketBoundaries?: number[] };
}

/**
 * The part of an `@opentelemetry/api` `Meter` the metrics use (`metrics.getMeter(name)`).
 * Structural, so that the library imports nothing of OpenTelemetry: without it, it costs nothing.
 */
export interface OpenTelemetryMeter {
  createObservableCounter(name: string, options?: InstrumentOptions): OpenTelemetryObservable;
  createObservableGauge(name: string, options?: InstrumentOptions): OpenTelemetryObservable;
  createHistogram(
    name: string,
    options?: InstrumentOptions,
  ): { record(value: number, attributes?: Attributes): void };
}

/** What {@link registerOpenTelemetryMetrics} reports. */
export type OpenTelemetryMetricsOptions = MetricSources;

/** Bucket bounds of the operation duration histogram, in seconds. */
const DURATION_BOUNDS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/**
 * Reports the store's and the cache's `stats()` through an OpenTelemetry `meter` — observable
 * counters read at each collection (503s by reason, retries, failovers, degraded masters; the
 * cache's hits by tier, misses, loads, coalesced calls, stale answers, refused stale sets,
 * errors) — and every store operation's and cache call's duration as the histogram
 * `redis_ha_session.operation.duration` (seconds; attributes `operation`, `outcome`), from the
 * operations' TracingChannels; each batch of durable writes as `redis_ha_session.write.batch_size`
 * and `redis_ha_session.write.wait.duration` (attribute `component`). Returns a function that
 * stops all of it.
 * @throws TypeError naming `meter`, `store` or `cache` when one is not what it should be
 */
export function registerOpenTelemetryMetrics(
  meter: OpenTelemetryMeter,
  options: OpenTelemetryMetricsOptions,
): () => void {
  const given = meter as unknown as Partial<OpenTelemetryMeter> | null;
  if (
    typeof given?.createObservableCounter !== "function" ||
    typeof given.createObservableGauge !== "function" ||
    typeof given.createHistogram !== "function"
  ) {
    throw new TypeError(
      `registerOpenTelemetryMetrics: \`meter\` must be an OpenTelemetry Meter (metrics.getMeter(name)); got ${describe(meter)}`,
    );
  }
  const { store, cache } = options;
  checkSources("registerOpenTelemetryMetrics", options);
  const stops: (() => void)[] = [];
  const observe = (
    instrument: OpenTelemetryObservable,
    read: (observation: OpenTelemetryObservation) => void,
  ) => {
    instrument.addCallback(read);
    stops.push(() => instrument.removeCallback(read));
  };
  const counter = (name: string, description: string, unit: string) =>
    meter.createObservableCounter(`redis_ha_session.${name}`, { description, unit });
  if (store !== undefined) {
    observe(
      counter("session.refused", "Session requests answered 503, by reason", "{request}"),
      (result) => {
        const { unavailable, notDurable } = store.stats();
        result.observe(unavailable, { reason: "unavailable" });
        result.observe(notDurable, { reason: "not_durable" });
      },
    );
    observe(
      counter("session.retries", "Store attempts repeated after a transient error", "{attempt}"),
      (result) => result.observe(store.stats().retries),
    );
    observe(
      counter("session.failovers", "Master changes the store's client followed", "{failover}"),
      (result) => result.observe(store.stats().failovers),
    );
    observe(
      counter("session.degradations", "Times a master's writes became degraded", "{event}"),
      (result) => result.observe(store.stats().degradations),
    );
    observe(
      counter("session.degraded.time", "Time masters' writes have been degraded, summed", "s"),
      (result) => result.observe(store.stats().degradedSeconds),
    );
    observe(
      meter.createObservableGauge("redis_ha_session.session.degraded_masters", {
        description: "Masters whose writes are degraded now",
        unit: "{master}",
      }),
      (result) => result.observe(store.stats().degraded.length),
    );
  }
  if (cache !== undefined) {
    observe(
      counter("cache.hits", "Cache calls answered with a fresh value, by tier", "{call}"),
      (result) => {
        const { hits, localHits } = cache.stats();
        result.observe(localHits, { tier: "local" });
        result.observe(hits, { tier: "redis" });
      },
    );
    const cacheCounts = [
      ["cache.misses", "Cache calls that found no fresh value", "misses", "{call}"],
      ["cache.loads", "Loader calls in this process", "loads", "{call}"],
      ["cache.coalesced", "Cache calls answered by another's read or load", "coalesced", "{call}"],
      [
        "cache.stale_served",
        "Expired values answered because the loader failed",
        "staleServed",
        "{call}",
      ],
      [
        "cache.stale_sets_refused",
        "Values not stored: invalidated while loaded",
        "rejectedStaleSets",
        "{value}",
      ],
      ["cache.errors", "Cache Redis operations that failed or timed out", "errors", "{operation}"],
    ] as const;
    for (const [name, description, field, unit] of cacheCounts) {
      observe(counter(name, description, unit), (result) => result.observe(cache.stats()[field]));
    }
  }
  const duration = meter.createHistogram("redis_ha_session.operation.duration", {
    description: "Store operations and cache calls, from start to their answer",
    unit: "s",
    advice: { explicitBucketBoundaries: DURATION_BOUNDS },
  });
  const wanted = (operation: string) =>
    operation.startsWith("session.") ? store !== undefined : cache !== undefined;
  // Each batch of durable writes, as it is confirmed.
  const batchSize = meter.createHistogram("redis_ha_session.write.batch_size", {
    description: "Durable writes confirmed together by one WAIT",
    unit: "{write}",
    advice: { explicitBucketBoundaries: [1, 2, 5, 10, 20, 50, 100] },
  });
  const waitDuration = meter.createHistogram("redis_ha_session.write.wait.duration", {
    description: "From sending a batch of durable writes to its WAIT's answer",
    unit: "s",
    advice: { explicitBucketBoundaries: DURATION_BOUNDS },
  });
  const onBatch = (message: unknown) => {
    const { component, size, waitMs } = message as WriteBatch;
    if (!wanted(`${component}.`)) return;
    batchSize.record(size, { component });
    waitDuration.record(waitMs / 1_000, { component });
  };
  subscribe(WRITE_BATCH_CHANNEL, onBatch);
  stops.push(() => unsubscribe(WRITE_BATCH_CHANNEL, onBatch));
  const started = new WeakMap<TraceContext, number>();
  stops.push(
    subscribeAll({
      start: (context) => {
        if (wanted(context.operation)) started.set(context, performance.now());
      },
      settled: (context, failed) => {
        const at = started.get(context);
        if (at === undefined) return;
        duration.record((performance.now() - at) / 1_000, {
          operation: context.operation,
          outcome: failed ? "error" : "ok",
        });
      },
    }),
  );
  return () => {
    for (const stop of stops.splice(0)) stop();
  };
}
