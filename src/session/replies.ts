import type { Vouched } from "../redis/Keyspace.js";
import type { ReadReply } from "./scripts.js";

// What the store's commands answer, as the store takes it.

/**
 * A session as read, and whether from the master a Sentinel majority names: a request whose read
 * was not may have read an old master's copy, and its writes check the fields they change (see
 * the write script).
 */
export type SessionRead = Vouched<ReadReply>;

/**
 * HGETALL's reply: a flat `[field, value, …]` array, or an object from a client created with
 * ioredis' `replyMapping: "resp3"`.
 */
export function hashReply(reply: unknown): ReadReply {
  const fields = Array.isArray(reply) ? (reply as string[]) : Object.entries(reply ?? {}).flat();
  return fields.length === 0 ? null : ["hash", fields as string[]];
}

/** Whether the write script wrote (1; 0: the session is gone). */
export function writeReply(reply: unknown): boolean {
  return reply === 1;
}
