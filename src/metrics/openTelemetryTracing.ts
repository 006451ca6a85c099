import { describe } from "../redis/options/validate.js";
import { subscribeAll } from "./tracing.js";
import type { TraceContext } from "./tracing.js";

/** The part of an OpenTelemetry `Span` the spans use. */
export interface OpenTelemetrySpan {
  setStatus(status: { code: number; message?: string }): unknown;
  recordException(exception: Error): void;
  end(): void;
}

/**
 * The part of an `@opentelemetry/api` `Tracer` the spans use (`trace.getTracer(name)`).
 * Structural: the library imports nothing of OpenTelemetry.
 */
export interface OpenTelemetryTracer {
  startSpan(
    name: string,
    options?: { kind?: number; attributes?: Record<string, string> },
  ): OpenTelemetrySpan;
}

/** `SpanKind.CLIENT` and `SpanStatusCode.ERROR` of `@opentelemetry/api`. */
const CLIENT = 2;
const ERROR = 2;

/**
 * Makes an OpenTelemetry span of every store operation and cache call (from their
 * TracingChannels): named after the operation (`session.get`, `cache.getOrLoad`…), a client span
 * of the caller's active span, with `db.system.name: "redis"`, `db.operation.name` and, for the
 * cache, `redis_ha_session.cache.key`; a failed operation's span records the error and has
 * status ERROR. Returns a function that stops it.
 * @throws TypeError naming `tracer` when it is not an OpenTelemetry Tracer
 */
export function registerOpenTelemetryTracing(tracer: OpenTelemetryTracer): () => void {
  const given = tracer as unknown as Partial<OpenTelemetryTracer> | null;
  if (typeof given?.startSpan !== "function") {
    throw new TypeError(
      `registerOpenTelemetryTracing: \`tracer\` must be an OpenTelemetry Tracer (trace.getTracer(name)); got ${describe(tracer)}`,
    );
  }
  const spans = new WeakMap<TraceContext, OpenTelemetrySpan>();
  return subscribeAll({
    start: (context) => {
      const attributes: Record<string, string> = {
        "db.system.name": "redis",
        "db.operation.name": context.operation,
      };
      if (context.key !== undefined) attributes["redis_ha_session.cache.key"] = context.key;
      spans.set(context, tracer.startSpan(context.operation, { kind: CLIENT, attributes }));
    },
    settled: (context, failed) => {
      const span = spans.get(context);
      if (span === undefined) return;
      if (failed) {
        const error =
          context.error instanceof Error ? context.error : new Error(String(context.error));
        span.recordException(error);
        span.setStatus({ code: ERROR, message: error.message });
      }
      span.end();
    },
  });
}
