/**
 * The replicas a master lists in `INFO replication`, one map of fields per
 * `slave0:ip=…,port=…,state=online,offset=…,lag=0` line.
 */
export function replicaLines(info: string): Map<string, string>[] {
  return [...info.matchAll(/^slave\d+:(.*?)\r?$/gm)].map(
    (match) =>
      new Map((match[1] ?? "").split(",").map((pair) => pair.split("=") as [string, string])),
  );
}
