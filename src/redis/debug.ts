import { createHash } from "node:crypto";
import createDebug from "debug";

/** One `debug` namespace per module: `DEBUG=redis-ha-session:*` shows them all. */
export function debugFor(module: string): createDebug.Debugger {
  return createDebug(`redis-ha-session:${module}`);
}

/** A short hash standing for a key in logs: never the key (a session id) itself. */
export function fingerprint(key: string): string {
  return `#${createHash("sha256").update(key).digest("hex").slice(0, 12)}`;
}
