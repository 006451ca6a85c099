import type { RequestHandler } from "express";
import { collectDefaultMetrics, Registry } from "prom-client";
import { registerPrometheusMetrics } from "redis-ha-session";
import type { RedisCache, RedisSessionStore } from "redis-ha-session";

/**
 * `/metrics` in Prometheus' text format: this process (memory, event-loop lag, GC, from
 * prom-client) and the package's exporter — the session store's and the DB cache's `stats()`,
 * read at each scrape.
 */
export function metricsHandler(
  store: RedisSessionStore,
  cache: RedisCache,
  instance: string,
): RequestHandler {
  const registry = new Registry();
  registry.setDefaultLabels({ instance });
  collectDefaultMetrics({ register: registry });
  registerPrometheusMetrics(registry, { store, cache });
  return (_req, res, next) => {
    registry.metrics().then((text) => {
      res.type(registry.contentType);
      res.send(text);
    }, next);
  };
}
