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

/** What a subscriber of every traced operation's channel is told (see {@link subscribeAll}). */
export interface TraceHandlers {
  start(context: TraceContext): void;
  /** The operation settled: `failed` when it rejected (with the channel's `error`). */
  settled(context: TraceContext & { error?: unknown }, failed: boolean): void;
}

/** Subscribes `handlers` to every operation's channel; returns the unsubscribing function. */
export function subscribeAll(handlers: TraceHandlers): () => void {
  const failed = new WeakSet<object>();
  const subscribers = {
    start: (context: TraceContext) => handlers.start(context),
    end: () => undefined,
    asyncStart: () => undefined,
    asyncEnd: (context: TraceContext) => handlers.settled(context, failed.has(context)),
    error: (context: TraceContext) => failed.add(context),
  };
  for (const channel of channels.values()) channel.subscribe(subscribers);
  return () => {
    for (const channel of channels.values()) channel.unsubscribe(subscribers);
  };
}
