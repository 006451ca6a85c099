import { Network } from "../../harness/netns/Network.js";

/**
 * Why the partition tests cannot run here (printed, and they skip), or undefined. They need root
 * for network namespaces and iptables; CI has both.
 */
export const partitionsUnavailable = await Network.unavailableReason();
if (partitionsUnavailable !== undefined) {
  console.warn(`partition tests skipped: ${partitionsUnavailable}`);
}
