/**
 * What was asked needs a topology other than the one configured: `durability.replicas: "all"` or
 * `durability.fenceReads` without a Sentinel topology this library connects to, `readFrom:
 * "replica"` on a single node.
 * Thrown when the store is created where the options say so; a `TypeError`, as other bad
 * options are.
 */
export class UnsupportedTopologyError extends TypeError {
  override readonly name = "UnsupportedTopologyError";
}
