import { RetryableError } from "../errors/internal/RetryableError.js";
import type { Backend } from "../redis/backend/Backend.js";
import type { SentinelQuorum } from "../redis/sentinel/SentinelQuorum.js";
import type { SessionRead } from "./replies.js";
import type { ReadReply } from "./scripts.js";

/**
 * Whether a read came from the master a Sentinel majority names (durable writes from a read that
 * did not check what they change), and with `durability.fenceReads` refusing the others.
 */
export class ReadFence {
  constructor(
    private readonly quorum: SentinelQuorum | undefined,
    private readonly fenceReads: boolean,
    private readonly backend: Backend,
  ) {}

  /**
   * A reply as read, with whether it came from the master a Sentinel majority names (always,
   * without a quorum); with `durability.fenceReads`, a read from another master does not count.
   * Synchronous for a master named by IP address (a host name is looked up).
   */
  readonly sessionRead = (reply: ReadReply): SessionRead | Promise<SessionRead> => {
    const quorum = this.quorum;
    if (quorum === undefined) return { reply, vouched: true };
    const vouched = quorum.vouches(this.backend.masterAddress());
    return typeof vouched === "boolean"
      ? this.#fenced(reply, vouched)
      : vouched.then((yes) => this.#fenced(reply, yes));
  };

  /** The read, unless `durability.fenceReads` refuses it. */
  #fenced(reply: ReadReply, vouched: boolean): SessionRead {
    if (!vouched && this.fenceReads) {
      throw new RetryableError(
        "no Sentinel majority names the master this instance reads from: its sessions may be " +
          "stale (option `durability.fenceReads`)",
      );
    }
    return { reply, vouched };
  }
}
