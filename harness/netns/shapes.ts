import { ask, SENTINEL_PORT } from "./nodes.js";
import { MASTER_NAME } from "./PartitionStack.js";
import type { PartitionStack } from "./PartitionStack.js";

/**
 * The partitions the suite and the soak apply, named after the scenarios. Each is built
 * around the current master `m` (n1 at the start) and the Sentinel sharing its index, s<m>: a
 * Sentinel "with" a data node stands for one running on the same host.
 */
export type ShapeName = "minority" | "isolated" | "bridge" | "replicasCut" | "ownHosts";

export interface Shape {
  /** The two sides; hosts in neither see both. */
  sides: [string[], string[]];
  /** What the shape is, for the log. */
  description: string;
}

/** Builds a shape around the data node `master` (n1, n2 or n3). */
export function shape(name: ShapeName, master: string): Shape {
  const index = Number(master.slice(1));
  const others = [1, 2, 3].filter((i) => i !== index);
  const [first = 2, second = 3] = others;
  const n = (i: number) => `n${i}`;
  const s = (i: number) => `s${i}`;
  switch (name) {
    case "minority":
      return {
        sides: [
          [n(index), s(index), "a1"],
          [n(first), n(second), s(first), s(second), "a2"],
        ],
        description: `{${n(index)} master, ${s(index)}, app A} | {replicas, 2 Sentinels, app B}`,
      };
    case "isolated":
      return {
        sides: [[n(index)], [n(first), n(second), "s1", "s2", "s3", "a1", "a2"]],
        description: `${n(index)} master isolated from everything`,
      };
    case "bridge":
      return {
        sides: [
          [n(index), s(index), "a1"],
          [n(second), s(second), "a2"],
        ],
        description: `{${n(index)} master, ${s(index)}, app A} | {${n(second)}, ${s(second)}, app B}, ${n(first)} and ${s(first)} see both`,
      };
    case "replicasCut":
      return {
        sides: [[n(index)], [n(first), n(second)]],
        description: `replicas cut from ${n(index)} master only (Sentinels and apps see all)`,
      };
    case "ownHosts":
      return {
        sides: [
          [n(index), n(first), "a1"],
          [n(second), "s1", "s2", "s3", "a2"],
        ],
        description: `Sentinels on their own hosts: {${n(index)} master, ${n(first)}, app A} | {3 Sentinels, ${n(second)}, app B}`,
      };
  }
}

/** The data node most Sentinels name as master (n1 when none answers). */
export async function currentMasterHost(stack: PartitionStack): Promise<string> {
  const votes = new Map<string, number>();
  for (const sentinel of stack.sentinels) {
    try {
      const reply = (await ask(sentinel.address, SENTINEL_PORT, [
        "SENTINEL",
        "get-master-addr-by-name",
        MASTER_NAME,
      ])) as string[];
      const node = stack.data.find(({ address }) => address === reply[0]);
      if (node !== undefined) votes.set(node.host, (votes.get(node.host) ?? 0) + 1);
    } catch {
      // a Sentinel that does not answer has no vote
    }
  }
  return [...votes].sort((a, b) => b[1] - a[1])[0]?.[0] ?? "n1";
}

/** A small seeded generator (mulberry32): the flapping schedule is the same on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
