import { Command } from "ioredis";
import type { Redis } from "ioredis";
import type { Socket } from "node:net";

// What this relies on in ioredis' internals (test/redis/corkedCommands.test.ts fails if an
// upgrade changes any of it):
// - `Command` is exported, and ioredis writes a command to the socket as what its
//   `toWritable(socket)` returns, so a subclass can serialise itself (into one Buffer here);
// - `client.sendCommand(command)` on a ready client writes at once to `client.stream`, the
//   net.Socket, so commands sent while it is corked leave in one write; on a client that is not
//   ready, the command waits in ioredis' offline queue and is sent after the reconnect;
// - the Command constructor applies `keyPrefix`, `replyEncoding: "utf8"` makes replies strings,
//   and reply transformers (HGETALL into an object, …) apply to lower-case names only.

/**
 * Commands held back before the socket is written anyway. A burst of requests handled in one turn
 * of the event loop would otherwise all wait for the last one: sending the first ones while the
 * rest are parsed lets Redis answer them meanwhile (measured: docs/benchmarks.md, "Why the code
 * is as it is").
 */
const FLUSH_AT = 8;

/** A command's arguments; an array among them is flattened into the command (as ioredis does). */
export type CommandArgs = (string | number | (string | number)[])[];

/**
 * The store's hot commands, sent with ioredis' `sendCommand`: those issued during one turn of the
 * event loop reach the socket together (corked until `setImmediate`, or until FLUSH_AT of them),
 * as with ioredis' auto-pipelining, without the Pipeline it builds per batch and the two promises
 * it adds per command — a third of the client's CPU per command.
 */
export class CorkedCommands {
  #corked: Socket | undefined;
  /** Commands written into the corked socket. */
  #held = 0;
  /** The same options for every command (not an object per command). */
  readonly #options: { replyEncoding: "utf8"; keyPrefix: string | undefined };

  constructor(private readonly client: Redis) {
    this.#options = { replyEncoding: "utf8", keyPrefix: client.options.keyPrefix };
  }

  /**
   * Sends a command; its reply as a string (or array of them). Name it in capitals: ioredis
   * applies its reply transformers (HGETALL into an object, …) to lower-case names only.
   */
  send(name: string, args: CommandArgs): Promise<unknown> {
    const { client } = this;
    const stream = client.stream as Socket | undefined;
    // Not connected, the command waits in ioredis' offline queue: nothing to cork.
    if (this.#corked === undefined && client.status === "ready" && stream?.writable === true) {
      stream.cork();
      this.#corked = stream;
      this.#held = 0;
      setImmediate(this.#uncork);
    }
    const command = new BufferedCommand(name, args, this.#options);
    client.sendCommand(command);
    if (this.#corked !== undefined && ++this.#held >= FLUSH_AT) this.#uncork();
    return command.promise;
  }

  /**
   * Writes what is corked now rather than after this turn of the event loop: for a batch sent from
   * a `setImmediate` callback, whose own `setImmediate` would wait a whole turn.
   */
  flush(): void {
    this.#uncork();
  }

  readonly #uncork = (): void => {
    const stream = this.#corked;
    this.#corked = undefined;
    stream?.uncork();
  };
}

/**
 * A command serialised straight into one buffer. ioredis appends each argument with four string
 * concatenations, which for a write batch of a hundred or more arguments leaves kilobytes of
 * intermediate strings per batch for the garbage collector; the buffer lives outside its heap.
 */
class BufferedCommand extends Command {
  override toWritable(socket: object): string | Buffer {
    const { name, args } = this;
    let size = respSize(name);
    for (const arg of args) {
      // Arguments are strings by now (ioredis converts numbers); anything else, ioredis' way.
      if (typeof arg !== "string") return super.toWritable(socket);
      size += respSize(arg);
    }
    const buffer = Buffer.allocUnsafe(size + 3 + digits(args.length + 1));
    let at = writeHeader(buffer, 0, "*", args.length + 1);
    at = writeBulk(buffer, at, name);
    for (const arg of args) at = writeBulk(buffer, at, arg as string);
    return buffer;
  }
}

/** Bytes of `$<length>\r\n<value>\r\n`. */
function respSize(value: string): number {
  const length = Buffer.byteLength(value);
  return length + digits(length) + 5;
}

function writeBulk(buffer: Buffer, at: number, value: string): number {
  const end = writeHeader(buffer, at, "$", Buffer.byteLength(value));
  const written = buffer.write(value, end, "utf8");
  buffer[end + written] = CR;
  buffer[end + written + 1] = LF;
  return end + written + 2;
}

/** `<type><count>\r\n` at `at`; returns where it ends. */
function writeHeader(buffer: Buffer, at: number, type: "*" | "$", count: number): number {
  buffer[at] = type.charCodeAt(0);
  const end = at + 1 + digits(count);
  let rest = count;
  for (let i = end - 1; i > at; i--) {
    buffer[i] = ZERO + (rest % 10);
    rest = Math.floor(rest / 10);
  }
  buffer[end] = CR;
  buffer[end + 1] = LF;
  return end + 2;
}

function digits(count: number): number {
  let n = 1;
  for (let rest = count; rest >= 10; rest = Math.floor(rest / 10)) n++;
  return n;
}

const CR = 13;
const LF = 10;
const ZERO = 48;
