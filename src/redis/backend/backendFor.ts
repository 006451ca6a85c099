import type { Cluster, Redis } from "ioredis";
import type { Backend } from "./Backend.js";
import { ClusterBackend } from "./ClusterBackend.js";
import { NodeBackend } from "./NodeBackend.js";

/** The backend of a client's topology. */
export function backendFor(client: Redis | Cluster): Backend {
  return client.isCluster
    ? new ClusterBackend(client as Cluster)
    : new NodeBackend(client as Redis);
}
