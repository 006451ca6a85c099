import { tracingChannel } from "node:diagnostics_channel";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, expect, test } from "vitest";
import {
  createCache,
  registerOpenTelemetryTracing,
  RedisSessionStore,
  TRACED_OPERATIONS,
} from "../../src/index.js";
import type { RedisCache, TraceContext } from "../../src/index.js";
import { useSingleNode } from "../support/hooks.js";

// Spans through node:diagnostics_channel: each store and cache operation on its TracingChannel
// `redis-ha-session:<operation>`, as an APM tool subscribes to it.

const redis = useSingleNode();
let store: RedisSessionStore;
let cache: RedisCache;
beforeAll(() => {
  store = new RedisSessionStore({ redis: redis.current.url });
  cache = createCache({ redis: redis.current.url, prefix: "tracing:" });
});
afterAll(async () => {
  await store.close();
  await cache.close();
});

interface Seen {
  event: string;
  context: TraceContext & { result?: unknown; error?: unknown };
}

/** Subscribes to every traced operation's channel until `stop()`; what each saw, in order. */
function subscribe(): { seen: Seen[]; stop: () => void } {
  const seen: Seen[] = [];
  const unsubscribes = TRACED_OPERATIONS.map((operation) => {
    const channel = tracingChannel<object, Seen["context"]>(`redis-ha-session:${operation}`);
    const handlers = {
      start: (context: Seen["context"]) => seen.push({ event: "start", context }),
      end: (context: Seen["context"]) => seen.push({ event: "end", context }),
      asyncStart: (context: Seen["context"]) => seen.push({ event: "asyncStart", context }),
      asyncEnd: (context: Seen["context"]) => seen.push({ event: "asyncEnd", context }),
      error: (context: Seen["context"]) => seen.push({ event: "error", context }),
    };
    channel.subscribe(handlers);
    return () => channel.unsubscribe(handlers);
  });
  return { seen, stop: () => unsubscribes.forEach((unsubscribe) => unsubscribe()) };
}

test("store operations: start, end and asyncEnd on their channel, with no session id in the context", async () => {
  const { seen, stop } = subscribe();
  const sid = "a-secret-session-id";
  try {
    const data = { cookie: { originalMaxAge: 60_000 }, cart: ["tea"] };
    await store.set(sid, data);
    await expect(store.get(sid)).resolves.toMatchObject({ cart: ["tea"] });
    await store.destroy(sid);
  } finally {
    stop();
  }
  const operations = seen
    .filter(({ event }) => event === "start")
    .map(({ context }) => context.operation);
  expect(operations).toEqual(["session.set", "session.get", "session.destroy"]);
  for (const operation of operations) {
    const events = seen.filter(({ context }) => context.operation === operation);
    expect(events.map(({ event }) => event)).toEqual(["start", "end", "asyncStart", "asyncEnd"]);
  }
  const get = seen.find(
    ({ event, context }) => event === "asyncEnd" && context.operation === "session.get",
  );
  expect(get?.context.result).toMatchObject({ cart: ["tea"] });
  expect(
    JSON.stringify(seen.map(({ context }) => ({ ...context, result: undefined }))),
  ).not.toContain(sid);
});

test("cache operations carry their key; a loader's failure is on the error channel", async () => {
  const { seen, stop } = subscribe();
  const failure = new Error("database down");
  try {
    await cache.getOrLoad("product:7", () => ({ id: 7 }));
    await cache.invalidateTag("catalogue");
    await expect(cache.getOrLoad("broken", () => Promise.reject(failure))).rejects.toBe(failure);
  } finally {
    stop();
  }
  // The channel adds `result` or `error` to the same context object later.
  const starts = seen
    .filter(({ event }) => event === "start")
    .map(({ context: { operation, key } }) => ({ operation, key }));
  expect(starts).toEqual([
    { operation: "cache.getOrLoad", key: "product:7" },
    { operation: "cache.invalidateTag", key: "catalogue" },
    { operation: "cache.getOrLoad", key: "broken" },
  ]);
  const errors = seen.filter(({ event }) => event === "error");
  expect(errors).toHaveLength(1);
  expect(errors[0]?.context).toMatchObject({ key: "broken", error: failure });
});

test("without a subscriber nothing is published (the operations run as they are)", async () => {
  const { seen, stop } = subscribe();
  stop();
  await cache.getOrLoad("quiet", () => 1);
  expect(seen).toEqual([]);
  expect(tracingChannel("redis-ha-session:cache.getOrLoad").hasSubscribers).toBe(false);
});

test("OpenTelemetry spans from the channels: one client span per operation, the error recorded", async () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const stop = registerOpenTelemetryTracing(provider.getTracer("app"));
  const failure = new Error("database down");
  try {
    const data = { cookie: { originalMaxAge: 60_000 } };
    await store.set("span-session", data);
    await cache.getOrLoad("product:9", () => ({ id: 9 }));
    await expect(cache.getOrLoad("failing", () => Promise.reject(failure))).rejects.toBe(failure);
  } finally {
    stop();
  }
  // Stopped: no more spans.
  await cache.getOrLoad("after", () => 1);
  const spans = exporter.getFinishedSpans();
  expect(spans.map(({ name }) => name)).toEqual([
    "session.set",
    "cache.getOrLoad",
    "cache.getOrLoad",
  ]);
  // SpanKind.CLIENT
  expect(spans.map(({ kind }) => kind)).toEqual([2, 2, 2]);
  expect(spans[1]?.attributes).toEqual({
    "db.system.name": "redis",
    "db.operation.name": "cache.getOrLoad",
    "redis_ha_session.cache.key": "product:9",
  });
  expect(spans[0]?.attributes["redis_ha_session.cache.key"]).toBeUndefined();
  expect(spans[1]?.status.code).toBe(0);
  expect(spans[2]?.status).toEqual({ code: 2, message: "database down" });
  expect(spans[2]?.events.map(({ name }) => name)).toEqual(["exception"]);
  await provider.shutdown();
});

test("registerOpenTelemetryTracing from plain JavaScript with no tracer: TypeError naming it", () => {
  expect(() => (registerOpenTelemetryTracing as (tracer: unknown) => unknown)({})).toThrow(
    /`tracer` must be an OpenTelemetry Tracer/,
  );
});
