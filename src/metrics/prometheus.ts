import type { HistogramSnapshot } from "../redis/stats.js";
import { describe } from "../redis/options/validate.js";
import { checkSources } from "./sources.js";
import type { MetricSources } from "./sources.js";

/**
 * The part of a prom-client `Registry` the exporter uses. Structural, so that no version of
 * prom-client is imported or required: the app's own registry is passed in.
 */
export interface PrometheusRegistry {
  registerMetric(metric: never): void;
  removeSingleMetric(name: string): void;
}

/** What {@link registerPrometheusMetrics} exports. */
export interface PrometheusMetricsOptions extends MetricSources {
  /** Prepended to every metric's name. @default "rhs_" */
  prefix?: string | undefined;
}

type MetricType = "counter" | "gauge" | "histogram";
interface Value {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/** A metric as prom-client's registry reads it; its values are read at each scrape. */
class StatsMetric {
  readonly aggregator = "sum";

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
    private readonly read: () => Value[],
  ) {}

  get(): Promise<{
    name: string;
    help: string;
    type: MetricType;
    aggregator: string;
    values: Value[];
  }> {
    const { name, help, type, aggregator } = this;
    return Promise.resolve({ name, help, type, aggregator, values: this.read() });
  }

  /** Nothing to reset: the values are the store's or the cache's counts since it was created. */
  reset(): void {
    return;
  }
}

/**
 * Registers the store's and the cache's `stats()` with a prom-client `registry`, read at each
 * scrape: counters (`…_total`), the degraded masters (a gauge), and the write batch and WAIT
 * latency histograms (seconds). Returns a function that unregisters them.
 * @throws TypeError naming `registry`, `store`, `cache` or `prefix` when one is not what it should be
 */
export function registerPrometheusMetrics(
  registry: PrometheusRegistry,
  options: PrometheusMetricsOptions,
): () => void {
  const given = registry as unknown as Partial<PrometheusRegistry> | null;
  if (
    typeof given?.registerMetric !== "function" ||
    typeof given.removeSingleMetric !== "function"
  ) {
    throw new TypeError(
      `registerPrometheusMetrics: \`registry\` must be a prom-client Registry; got ${describe(registry)}`,
    );
  }
  const { store, cache, prefix = "rhs_" } = options;
  if (typeof prefix !== "string" || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix)) {
    throw new TypeError(
      `registerPrometheusMetrics: \`prefix\` must be a Prometheus name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*); got ${describe(prefix)}`,
    );
  }
  checkSources("registerPrometheusMetrics", options);
  const metrics: StatsMetric[] = [];
  const counter = (name: string, help: string, read: () => Value[]) =>
    metrics.push(new StatsMetric(`${prefix}${name}_total`, help, "counter", read));
  const one = (value: number): Value[] => [{ value, labels: {} }];
  if (store !== undefined) {
    const stats = () => store.stats();
    counter(
      "session_unavailable",
      "Store operations that gave up on Redis within unavailable.waitMs, and requests turned away during an outage (each a 503)",
      () => one(stats().unavailable),
    );
    counter(
      "session_not_durable",
      "Writes too few replicas confirmed within the wait bound (each a 503)",
      () => one(stats().notDurable),
    );
    counter(
      "session_retries",
      "Store attempts repeated after a transient error (failover, reconnection, READONLY)",
      () => one(stats().retries),
    );
    counter("session_failovers", "Master changes the session store's client followed", () =>
      one(stats().failovers),
    );
    counter(
      "session_corrupt",
      "Session keys holding what this library did not write, taken as no session",
      () => one(stats().corrupt),
    );
    counter(
      "session_degradations",
      "Times a master's writes became degraded (fewer replicas than durability.replicas)",
      () => one(stats().degradations),
    );
    counter(
      "session_degraded_seconds",
      "Seconds masters' writes have been degraded, summed over masters",
      () => one(stats().degradedSeconds),
    );
    metrics.push(
      new StatsMetric(
        `${prefix}session_degraded_masters`,
        "Masters whose writes are degraded now",
        "gauge",
        () => one(stats().degraded.length),
      ),
      histogram(
        `${prefix}session_write_batch_size`,
        "Durable writes committed together in one script call and one WAIT",
        () => stats().writeBatchSize,
        1,
      ),
      histogram(
        `${prefix}session_wait_seconds`,
        "From sending a batch of writes to its WAIT's answer",
        () => stats().waitLatencyMs,
        1_000,
      ),
    );
  }
  if (cache !== undefined) {
    const stats = () => cache.stats();
    counter(
      "cache_hits",
      "Calls answered with a fresh value, by tier (local: this process; redis)",
      () => {
        const { hits, localHits } = stats();
        return [
          { value: localHits, labels: { tier: "local" } },
          { value: hits, labels: { tier: "redis" } },
        ];
      },
    );
    counter("cache_misses", "Calls that found no fresh value", () => one(stats().misses));
    counter("cache_loads", "Loader calls in this process", () => one(stats().loads));
    counter(
      "cache_coalesced",
      "Calls answered by another call's read or load (here, or another process's load)",
      () => one(stats().coalesced),
    );
    counter(
      "cache_stale_served",
      "Expired values answered because their loader failed (staleTtl)",
      () => one(stats().staleServed),
    );
    counter(
      "cache_stale_sets_refused",
      "Values not stored: the key was invalidated or written while they loaded",
      () => one(stats().rejectedStaleSets),
    );
    counter("cache_errors", "Redis operations of the cache that failed or timed out", () =>
      one(stats().errors),
    );
    counter("cache_corrupt", "Cache entries not in the cache's format, taken as misses", () =>
      one(stats().corrupt),
    );
    metrics.push(
      histogram(
        `${prefix}cache_write_batch_size`,
        "Cache changes confirmed together in one script call and one WAIT",
        () => stats().writeBatchSize,
        1,
      ),
      histogram(
        `${prefix}cache_wait_seconds`,
        "From sending a batch of cache changes to its WAIT's answer",
        () => stats().waitLatencyMs,
        1_000,
      ),
    );
  }
  for (const metric of metrics) registry.registerMetric(metric as never);
  return () => {
    for (const { name } of metrics) registry.removeSingleMetric(name);
  };
}

/** A histogram the library counted itself, its bounds and sum divided by `unit`. */
function histogram(
  name: string,
  help: string,
  read: () => HistogramSnapshot,
  unit: number,
): StatsMetric {
  return new StatsMetric(name, help, "histogram", (): Value[] => {
    const { buckets, count, sum } = read();
    return [
      ...buckets.map(({ le, count: inBucket }) => ({
        value: inBucket,
        labels: { le: le / unit },
        metricName: `${name}_bucket`,
      })),
      { value: count, labels: { le: "+Inf" }, metricName: `${name}_bucket` },
      { value: sum / unit, labels: {}, metricName: `${name}_sum` },
      { value: count, labels: {}, metricName: `${name}_count` },
    ];
  });
}
