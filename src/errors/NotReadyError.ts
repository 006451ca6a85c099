/**
 * `ready()` found Redis not as the options ask: `reason` says what (`unreachable`: no answer —
 * refused, unknown host, a wrong password, a database the server does not have; `not-master`:
 * the node answers as a replica; `fewer-replicas`: fewer replicas in sync than
 * `durability.replicas`), the message names the cause.
 */
export class NotReadyError extends Error {
  override readonly name = "NotReadyError";

  constructor(
    message: string,
    readonly reason: "unreachable" | "not-master" | "fewer-replicas",
  ) {
    super(message);
  }
}
