import type { RequestHandler } from "express";
import { collectDefaultMetrics, Counter, Registry } from "prom-client";
import type { HistogramSnapshot, RedisSessionStore } from "redis-ha-session";

/**
 * `/metrics` in Prometheus' text format: this process (memory, event-loop lag, GC, from
 * prom-client) and the session store's `stats()`, read at each scrape.
 */
export function metricsHandler(store: RedisSessionStore, instance: string): RequestHandler {
  const registry = new Registry();
  registry.setDefaultLabels({ instance });
  collectDefaultMetrics({ register: registry });
  const counters = {
    unavailable: "Requests answered 503: Redis did not answer within the wait bound, or was down",
    notDurable: "Writes answered 503: too few replicas confirmed them within the wait bound",
    retries: "Store attempts repeated after a transient error (failover, reconnection, READONLY)",
    failovers: "Master changes the session store's client followed",
  } as const;
  for (const [key, help] of Object.entries(counters) as [keyof typeof counters, string][]) {
    new Counter({
      name: `rhs_session_${snake(key)}_total`,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(store.stats()[key]);
      },
    });
  }
  return (_req, res, next) => {
    registry.metrics().then((text) => {
      const stats = store.stats();
      res.type(registry.contentType);
      res.send(
        text +
          histogram(
            "rhs_session_write_batch_size",
            "Durable writes committed together in one script call and one WAIT",
            stats.writeBatchSize,
            instance,
          ) +
          histogram(
            "rhs_session_wait_latency_ms",
            "From sending a batch of writes to its WAIT's answer, in ms",
            stats.waitLatencyMs,
            instance,
          ),
      );
    }, next);
  };
}

/** A histogram the store counted itself, in the exposition format. */
function histogram(name: string, help: string, data: HistogramSnapshot, instance: string): string {
  const label = `instance="${instance}"`;
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
  for (const { le, count } of data.buckets)
    lines.push(`${name}_bucket{${label},le="${le}"} ${count}`);
  lines.push(`${name}_bucket{${label},le="+Inf"} ${data.count}`);
  lines.push(`${name}_sum{${label}} ${data.sum}`, `${name}_count{${label}} ${data.count}`);
  return `${lines.join("\n")}\n`;
}

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}
