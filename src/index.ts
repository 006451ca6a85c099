export { redisSession } from "./middleware/redisSession.js";
export type { RedisSessionMiddleware } from "./middleware/redisSession.js";
export { RedisSessionStore } from "./store/RedisSessionStore.js";
export { createRedisClient } from "./redis/createRedisClient.js";
export type {
  ClusterTopology,
  RedisAddress,
  RedisTopology,
  SentinelTopology,
  SingleNodeTopology,
} from "./redis/topology.js";
export type { RedisSessionOptions, RedisSessionStoreOptions } from "./options.js";
export { SessionTooLargeError } from "./errors/SessionTooLargeError.js";
