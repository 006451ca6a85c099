import { RetryableError } from "../../errors/internal/RetryableError.js";
import type { Backend } from "../backend/Backend.js";
import type { SentinelQuorum } from "./SentinelQuorum.js";

/** A reply as read, and whether from the master a Sentinel majority names. */
export interface Vouched<T> {
  reply: T;
  /**
   * The master it came from was the one a Sentinel majority named (always true without a
   * quorum, and when durability asks for no replicas). A write based on a read that was not may
   * be based on an old master's copy: it checks what it changes.
   */
  vouched: boolean;
}

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
   * without a quorum) and the client followed no failover while it was read (`moved`: a Cluster
   * master frozen through its failover answers the reads queued on it before it learns it was
   * replaced); with `durability.fenceReads`, a read from another master does not count.
   * Synchronous for a master named by IP address (a host name is looked up).
   */
  vouch<T>(reply: T, moved: boolean): Vouched<T> | Promise<Vouched<T>> {
    if (moved) return this.#fenced(reply, false);
    const quorum = this.quorum;
    if (quorum === undefined) return { reply, vouched: true };
    const vouched = quorum.vouches(this.backend.masterAddress());
    return typeof vouched === "boolean"
      ? this.#fenced(reply, vouched)
      : vouched.then((yes) => this.#fenced(reply, yes));
  }

  /** The read, unless `durability.fenceReads` refuses it. */
  #fenced<T>(reply: T, vouched: boolean): Vouched<T> {
    if (!vouched && this.fenceReads) {
      throw new RetryableError(
        "no Sentinel majority names the master this instance reads from: what it reads may be " +
          "stale (option `durability.fenceReads`)",
      );
    }
    return { reply, vouched };
  }
}
