import type { CommandArgs } from "../connection/CorkedCommands.js";
import { RetryableError } from "../../errors/internal/RetryableError.js";
import { replyIs } from "../connection/replies.js";
import { forgetScript, sentBefore } from "../scripts.js";
import type { Script } from "../scripts.js";
import type { WriterLane } from "./WriterLane.js";

/**
 * A script that writes a batch: KEYS are the batch's keys; ARGV, for each key in turn, the count
 * of its arguments, then those arguments. Its reply is an array, one reply per key. The
 * argument at `deadlineArg` of each key's is that write's deadline on the server's clock (ms),
 * set just before sending; the script must not apply a write whose deadline has passed.
 */
export interface BatchScript {
  script: Script;
  deadlineArg: number;
}

/** One write's arguments to the batch script. */
export type WriteArguments = (string | number)[];

/** A write as a batch carries it. */
interface BatchWrite {
  key: string;
  /** Writes of one group may share a script call (see LaneRouter.groupOf). */
  group: number;
  args: WriteArguments;
  deadline: number;
}

/** The batch ordered by group (stable), so that each group's writes are next to each other. */
export function groupedBatch<T extends BatchWrite>(batch: T[]): T[] {
  const first = batch[0]?.group;
  if (batch.every(({ group }) => group === first)) return batch;
  return batch
    .map((write, i) => ({ write, i }))
    .sort((a, b) => a.write.group - b.write.group || a.i - b.i)
    .map(({ write }) => write);
}

/**
 * The write script over a grouped batch's keys on the lane, one call per group of keys (a script's
 * keys must share a Cluster slot), as EVALSHA; the first time on a connection as EVAL, which loads
 * it (a new master after a failover has never seen it). Resolves to each write's reply, or the
 * error of its call; never rejects.
 */
export function sendBatch(
  lane: WriterLane,
  batchScript: BatchScript,
  batch: readonly BatchWrite[],
): Promise<unknown[]> {
  const calls: Promise<unknown[]>[] = [];
  for (let start = 0; start < batch.length;) {
    const group = batch[start]?.group;
    let end = start + 1;
    while (end < batch.length && batch[end]?.group === group) end++;
    const size = end - start;
    calls.push(
      sendCall(lane, batchScript, batch.slice(start, end)).then(
        (replies) => replies as unknown[],
        (reason: unknown) => Array<Error>(size).fill(callError(lane, batchScript, reason)),
      ),
    );
    start = end;
  }
  return Promise.all(calls).then((replies) => replies.flat());
}

/** One call of the write script over `writes`. */
function sendCall(
  lane: WriterLane,
  { script, deadlineArg }: BatchScript,
  writes: readonly BatchWrite[],
): Promise<unknown> {
  const loaded = sentBefore(lane.connection, script.sha);
  const command: CommandArgs = [loaded ? script.sha : script.lua, writes.length];
  for (const { key } of writes) command.push(key);
  for (const { args, deadline } of writes) {
    // The deadline on the server's clock, which the script checks it against.
    args[deadlineArg] = lane.clock.toServer(deadline);
    // Each write's own arguments array: ioredis flattens it into the command, one copy in all.
    command.push(args.length, args);
  }
  return lane.commands.send(loaded ? "EVALSHA" : "EVAL", command);
}

/** A call's error; NOSCRIPT (the script cache was flushed) loads the script on the retry. */
function callError(lane: WriterLane, { script }: BatchScript, reason: unknown): Error {
  if (replyIs(reason, "NOSCRIPT")) {
    forgetScript(lane.connection, script.sha);
    return new RetryableError("the write script was not loaded on the server");
  }
  return asError(reason);
}

/**
 * A WAIT's error. A demoted master (a Cluster replica now) refuses WAIT: the writes before it met
 * MOVED and are retried on the new master.
 */
export function waitError(reason: unknown): Error {
  const error = asError(reason);
  return error.message.includes("WAIT cannot be used with replica")
    ? new RetryableError("the master was demoted before its writes were confirmed")
    : error;
}

export function isError(value: unknown): value is Error {
  return value instanceof Error;
}

export function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
