/**
 * Internal: an attempt that must be repeated as a whole (a write whose WAIT went to another
 * master, a write past its deadline, a master no Sentinel majority names). The bounded wait
 * retries it until its deadline; it never reaches the user.
 */
export class RetryableError extends Error {
  override readonly name = "RetryableError";
}
