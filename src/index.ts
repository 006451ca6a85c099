export { redisSession } from "./session/express/redisSession.js";
export type { RedisSessionMiddleware } from "./session/express/redisSession.js";
export { RedisSessionStore } from "./session/RedisSessionStore.js";
export { createRedisClient } from "./redis/createRedisClient.js";
export { createCache } from "./cache/createCache.js";
export { RedisCache } from "./cache/RedisCache.js";
export type { CacheNamespace } from "./cache/CacheNamespace.js";
export type { BulkLoaded } from "./cache/loadBatch.js";
export { redisCacheAclRules } from "./cache/acl.js";
export { v8Serializer } from "./cache/serializers.js";
export type { CacheSerializer } from "./cache/entry.js";
export type {
  CacheOptions,
  CacheUnavailableOptions,
  LoaderTimeoutOptions,
  LocalTierOptions,
} from "./cache/options.js";
export type { CacheCallOptions } from "./cache/callOptions.js";
export type { CacheStats } from "./cache/CacheCounters.js";
export type { RedisCacheEvents } from "./cache/cacheEvents.js";
export { registerPrometheusMetrics } from "./metrics/prometheus.js";
export type { PrometheusMetricsOptions, PrometheusRegistry } from "./metrics/prometheus.js";
export { TRACED_OPERATIONS } from "./metrics/tracing.js";
export type { TraceContext, TracedOperation } from "./metrics/tracing.js";
export { registerOpenTelemetryMetrics } from "./metrics/openTelemetry.js";
export { registerOpenTelemetryTracing } from "./metrics/openTelemetryTracing.js";
export type { OpenTelemetrySpan, OpenTelemetryTracer } from "./metrics/openTelemetryTracing.js";
export type {
  OpenTelemetryMeter,
  OpenTelemetryMetricsOptions,
  OpenTelemetryObservable,
  OpenTelemetryObservation,
} from "./metrics/openTelemetry.js";
export { redisAclRules } from "./session/acl.js";
export type {
  ClusterTopology,
  RedisAddress,
  RedisTopology,
  SentinelTopology,
  SingleNodeTopology,
} from "./redis/options/topology.js";
export type { RedisSessionStoreOptions } from "./session/options.js";
export type { SessionTtl } from "./session/ttl.js";
export type { RedisSessionStoreEvents } from "./session/storeEvents.js";
export type { RedisSessionOptions } from "./session/express/sessionOptions.js";
export { login, logout, logoutEverywhere, sessionsOf } from "./session/express/login.js";
export type { LoginOptions, LoginUser } from "./session/express/login.js";
export type { UserSession } from "./session/UserSessions.js";
export { healthCheck, healthHandler } from "./redis/healthCheck.js";
export type { HealthReport } from "./redis/healthCheck.js";
export type { ShardHealth } from "./redis/backend/Backend.js";
export type { FailoverEvent } from "./redis/connection/ConnectionMonitor.js";
export type { DurabilityChange } from "./redis/writes/ReplicaRule.js";
export type { HistogramSnapshot, StoreStats } from "./redis/stats.js";
export type { DurabilityOptions, UnavailableOptions } from "./redis/options/options.js";
export { LoaderTimeoutError } from "./errors/LoaderTimeoutError.js";
export { NotDurableError } from "./errors/NotDurableError.js";
export { NotReadyError } from "./errors/NotReadyError.js";
export type { ReadyOptions } from "./redis/ready.js";
export type { Logger } from "./redis/options/options.js";
export { RedisUnavailableError } from "./errors/RedisUnavailableError.js";
export { SessionTooLargeError } from "./errors/SessionTooLargeError.js";
export { UnsupportedTopologyError } from "./errors/UnsupportedTopologyError.js";
/** @deprecated The name before the DB cache shared it; use {@link RedisUnavailableError}. */
export { RedisUnavailableError as SessionStoreUnavailableError } from "./errors/RedisUnavailableError.js";
/** @deprecated The name before the DB cache shared it; use {@link NotDurableError}. */
export { NotDurableError as SessionNotDurableError } from "./errors/NotDurableError.js";
