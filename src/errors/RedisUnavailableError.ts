/**
 * Redis did not answer within `unavailable.waitMs` (it is down, unreachable, or a failover took
 * longer). `redisSession` answers such a request `503` with `Retry-After`.
 */
export class RedisUnavailableError extends Error {
  override readonly name = "RedisUnavailableError";
}
