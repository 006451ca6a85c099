/**
 * A write reached the master, but fewer replicas than `durability.replicas` confirmed it within
 * `unavailable.waitMs`, so it could be lost in a failover and is not acknowledged.
 * `redisSession` answers such a request `503` with `Retry-After`.
 */
export class NotDurableError extends Error {
  override readonly name = "NotDurableError";

  constructor(
    readonly confirmed: number,
    readonly required: number,
    options?: { cause?: unknown; reason?: string },
  ) {
    super(
      `write confirmed by ${confirmed} of ${required} required replicas; ` +
        (options?.reason ??
          "lower `durability.replicas` if this topology cannot keep that many replicas in sync"),
      options,
    );
  }
}
