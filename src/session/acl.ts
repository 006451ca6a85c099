import { aclRules } from "../redis/aclRules.js";

/**
 * Every command the store sends, or runs inside its scripts (Redis checks those too), grouped by
 * what needs it. An ACL user with exactly these, on the store's prefix, is enough.
 */
const COMMANDS = {
  // ioredis also sends CLIENT SETINFO (and SETNAME with `connectionName`) but ignores a refusal.
  connection: ["hello", "auth", "ping", "info", "select", "quit"],
  sessions: ["hgetall", "eval", "evalsha", "wait", "role", "scan", "unlink"],
  // hsetnx and hget (also run in scripts) make and read the users' hash-tag key.
  userIndex: ["smembers", "srem", "hmget", "pttl", "hsetnx", "hget"],
  // ioredis' Cluster client learns the slot map with CLUSTER SLOTS; replica reads on a Cluster
  // put their replica connections in READONLY mode.
  cluster: ["cluster|slots", "readonly"],
  insideScripts: [
    "time",
    "pexpire",
    "type",
    "get",
    "exists",
    "del",
    "hset",
    "hsetnx",
    "hget",
    "hdel",
    "sadd",
  ],
} as const;

/**
 * The ACL rules for a Redis user that may do what the store needs and nothing else: its commands,
 * on keys under `prefix` only, no Pub/Sub channels.
 *
 * @example
 * // redis-cli ACL SETUSER sessions on '>password' <rules>
 * console.log(redisAclRules("sess:"));
 */
export function redisAclRules(prefix = "sess:"): string {
  return aclRules(prefix, [], COMMANDS);
}
