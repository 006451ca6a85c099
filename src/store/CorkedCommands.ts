import { Command } from "ioredis";
import type { Redis } from "ioredis";
import type { Socket } from "node:net";

/**
 * The store's hot commands, sent with ioredis' `sendCommand`: those issued during one turn of the
 * event loop reach the socket in a single write (corked until `setImmediate`), as with ioredis'
 * auto-pipelining, without the Pipeline it builds per batch and the two promises it adds per
 * command — a third of the client's CPU per command.
 */
export class CorkedCommands {
  #corked: Socket | undefined;
  /** The same options for every command (not an object per command). */
  readonly #options: { replyEncoding: "utf8"; keyPrefix: string | undefined };

  constructor(private readonly client: Redis) {
    this.#options = { replyEncoding: "utf8", keyPrefix: client.options.keyPrefix };
  }

  /**
   * Sends a command; its reply as a string (or array of them). Name it in capitals: ioredis
   * applies its reply transformers (HGETALL into an object, …) to lower-case names only.
   */
  send(name: string, args: (string | number)[]): Promise<unknown> {
    const { client } = this;
    const stream = client.stream as Socket | undefined;
    // Not connected, the command waits in ioredis' offline queue: nothing to cork.
    if (this.#corked === undefined && client.status === "ready" && stream?.writable === true) {
      stream.cork();
      this.#corked = stream;
      setImmediate(this.#uncork);
    }
    const command = new Command(name, args, this.#options);
    client.sendCommand(command);
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
