import { aclRules } from "../redis/aclRules.js";

/**
 * Every command the cache sends, or runs inside its scripts (Redis checks those too), grouped by
 * what needs it. An ACL user with exactly these, on the cache's prefix and channel, is enough.
 */
const COMMANDS = {
  // ioredis also sends CLIENT SETINFO (and SETNAME with `connectionName`) but ignores a refusal.
  connection: ["hello", "auth", "ping", "info", "select", "quit"],
  cache: ["get", "eval", "evalsha", "wait", "role", "time"],
  // The channel that wakes waiters and keeps local tiers coherent.
  channel: ["subscribe", "publish"],
  // ioredis' Cluster client learns the slot map with CLUSTER SLOTS.
  cluster: ["cluster|slots"],
  insideScripts: [
    "set",
    "pexpire",
    "pttl",
    "del",
    "incr",
    "zadd",
    "zrem",
    "zremrangebyscore",
    "zcard",
  ],
} as const;

/**
 * The ACL rules for a Redis user that may do what a cache needs and nothing else: its commands,
 * on keys under `prefix` and its channel `<prefix>events` only.
 *
 * @example
 * // redis-cli ACL SETUSER cache on '>password' <rules>
 * console.log(redisCacheAclRules("cache:"));
 */
export function redisCacheAclRules(prefix = "cache:"): string {
  return aclRules(prefix, [`${prefix}events`], COMMANDS);
}
