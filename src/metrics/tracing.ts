import { tracingChannel } from "node:diagnostics_channel";
import type { TracingChannel } from "node:diagnostics_channel";

/**
 * The operations traced, each on the `node:diagnostics_channel` TracingChannel
 * `redis-ha-session:<operation>` (its start, end, asyncStart, asyncEnd and error channels), for
 * APM tools and OpenTelemetry instrumentations to make spans of.
 */
export const TRACED_OPERATIONS = [
  "session.get",
  "session.set",
  "session.touch",
  "session.destroy",
  "cache.getOrLoad",
  "cache.get",
  "cache.set",
  "cache.writeThrough",
  "cache.invalidate",
  "cache.invalidateTag",
] as const;

export type TracedOperation = (typeof TRACED_OPERATIONS)[number];

/**
 * What a trace's events carry: the operation and, for the cache, its key (or tag). Session ids
 * are never in it (they are credentials). The channel adds `result` or `error`.
 */
export interface TraceContext {
  operation: TracedOperation;
  key?: string | undefined;
}

const channels = new Map<TracedOperation, TracingChannel<object, TraceContext>>(
  TRACED_OPERATIONS.map((operation) => [
    operation,
    tracingChannel<object, TraceContext>(`redis-ha-session:${operation}`),
  ]),
);

/**
 * Runs `run` as one `operation`, traced on its channel while anyone subscribes to it (otherwise
 * run as is: one property read).
 */
export function traced<T>(
  operation: TracedOperation,
  key: string | undefined,
  run: () => Promise<T>,
): Promise<T> {
  const channel = channels.get(operation);
  if (!channel?.hasSubscribers) return run();
  return channel.tracePromise(run, { operation, key });
}
