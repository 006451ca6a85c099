import createDebug from "debug";

/** One `debug` namespace per module: `DEBUG=redis-ha-session:*` shows them all. */
export function debugFor(module: string): createDebug.Debugger {
  return createDebug(`redis-ha-session:${module}`);
}
