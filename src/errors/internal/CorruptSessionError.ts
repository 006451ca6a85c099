/** Internal: a stored value that is not a session. The store treats it as no session. */
export class CorruptSessionError extends Error {
  override readonly name = "CorruptSessionError";
}
