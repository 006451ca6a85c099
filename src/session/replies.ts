import { RedisUnavailableError } from "../errors/RedisUnavailableError.js";
import { RetryableError } from "../errors/internal/RetryableError.js";
import type { OffsetReply } from "../redis/writes/DurableWriter.js";
import type { ReadReply } from "./scripts.js";

// What the store's commands answer, as the store takes it.

/** A session as read, and whether from the master a Sentinel majority names. */
export interface SessionRead {
  reply: ReadReply;
  /**
   * The master it came from was the one a Sentinel majority named (always true without a
   * quorum, and when durability asks for no replicas). A request whose read was not may have
   * read an old master's copy: its writes check the fields they change (see the write script).
   */
  vouched: boolean;
}

/**
 * HGETALL's reply: a flat `[field, value, …]` array, or an object from a client created with
 * ioredis' `replyMapping: "resp3"`.
 */
export function hashReply(reply: unknown): ReadReply {
  const fields = Array.isArray(reply) ? (reply as string[]) : Object.entries(reply ?? {}).flat();
  return fields.length === 0 ? null : ["hash", fields as string[]];
}

/**
 * Whether the write script wrote (false: the session is gone); -1 is a write past its deadline,
 * -2 one whose checked fields had changed since the request read them.
 */
export function writeReply(reply: unknown): boolean {
  if (reply === -1) throw new RetryableError("the write reached Redis after its deadline");
  if (reply === -2) {
    throw new RedisUnavailableError(
      "the session was read from a master no Sentinel majority named, and the master they name " +
        "holds newer values of fields this request changed: not written",
    );
  }
  return reply === 1;
}

/**
 * A durable write's result with its causal token (see OffsetReply): whether it wrote, and the
 * offset handed to `onOffset` when there is one.
 */
export function offsetWriteReply(
  result: unknown,
  onOffset: ((offset: number) => void) | undefined,
): boolean {
  const { reply, offset } = result as OffsetReply;
  const written = writeReply(reply);
  if (offset !== undefined) onOffset?.(offset);
  return written;
}

export function firstWriteReply(replies: unknown): boolean {
  return writeReply(Array.isArray(replies) ? replies[0] : replies);
}
