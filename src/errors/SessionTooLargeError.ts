/**
 * The encoded session is larger than `maxBytes`; nothing was written. Store less in the session
 * (ids rather than objects) or raise `maxBytes`.
 */
export class SessionTooLargeError extends Error {
  override readonly name = "SessionTooLargeError";

  constructor(
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(
      `session is ${bytes} bytes encoded, over the limit of ${maxBytes} (option \`maxBytes\`); ` +
        "nothing was written",
    );
  }
}
