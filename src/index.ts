export { redisSession } from "./middleware/redisSession.js";
export type { RedisSessionMiddleware } from "./middleware/redisSession.js";
export { RedisSessionStore } from "./store/RedisSessionStore.js";
export { createRedisClient } from "./redis/createRedisClient.js";
export { redisAclRules } from "./redis/acl.js";
export type {
  ClusterTopology,
  RedisAddress,
  RedisTopology,
  SentinelTopology,
  SingleNodeTopology,
} from "./redis/topology.js";
export type { RedisSessionOptions, RedisSessionStoreOptions } from "./options.js";
export { login, logout, logoutEverywhere, sessionsOf } from "./middleware/helpers.js";
export type { LoginOptions, LoginUser } from "./middleware/helpers.js";
export type { UserSession } from "./store/UserSessions.js";
export { healthCheck, healthHandler } from "./middleware/health.js";
export type { HealthReport } from "./middleware/health.js";
export type { FailoverEvent } from "./store/ConnectionMonitor.js";
export type { HistogramSnapshot, StoreStats } from "./store/stats.js";
export type { DurabilityOptions, UnavailableOptions } from "./options.js";
export { SessionNotDurableError } from "./errors/SessionNotDurableError.js";
export { SessionStoreUnavailableError } from "./errors/SessionStoreUnavailableError.js";
export { SessionTooLargeError } from "./errors/SessionTooLargeError.js";
