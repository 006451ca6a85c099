/**
 * What was asked needs a topology other than the one configured (`durability.replicas` above 0
 * on a Cluster, `durability.fenceReads` without Sentinel, the per-user index on a Cluster).
 * Thrown when the store is created where the options say so; a `TypeError`, as other bad
 * options are.
 */
export class UnsupportedTopologyError extends TypeError {
  override readonly name = "UnsupportedTopologyError";
}
