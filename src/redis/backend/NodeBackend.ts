import type { Redis } from "ioredis";
import { duplicateClient, sentinelWatchOf } from "../createRedisClient.js";
import { SinglePoolRouter } from "../writes/LaneRouter.js";
import type { LaneRouter } from "../writes/LaneRouter.js";
import { LanePool } from "../writes/WriterLane.js";
import { CorkedCommands } from "../connection/CorkedCommands.js";
import type { CommandArgs } from "../connection/CorkedCommands.js";
import { scanNode } from "./scan.js";
import type { BoundStep } from "./scan.js";
import { ReplicaReads } from "../replicas/ReplicaReads.js";
import type { ReplicaRouter } from "../replicas/ReplicaRouter.js";
import { runScript } from "../scripts.js";
import type { Script } from "../scripts.js";
import { addressOf } from "../sentinel/SentinelWatch.js";
import type { SentinelWatch } from "../sentinel/SentinelWatch.js";
import type { Backend } from "./Backend.js";

/** A single node or a Sentinel topology: one master at a time, every key on it. */
export class NodeBackend implements Backend {
  readonly kind = "node";
  readonly keysTogether = true;
  readonly sentinelWatch: SentinelWatch | undefined;
  readonly #corked: CorkedCommands;

  constructor(readonly client: Redis) {
    this.sentinelWatch = sentinelWatchOf(client);
    this.#corked = new CorkedCommands(client);
  }

  openLanes(): LaneRouter {
    return new SinglePoolRouter(new LanePool(() => duplicateClient(this.client)));
  }

  /** On a Sentinel topology this library connected to (checked with the options). */
  openReplicaReads(): ReplicaRouter {
    return ReplicaReads.of(this.client);
  }

  openSubscriber(): Redis {
    return duplicateClient(this.client);
  }

  send(command: string, args: CommandArgs): Promise<unknown> {
    return this.#corked.send(command, args);
  }

  runScript(
    script: Script,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    return runScript(this.client, script, keys, args);
  }

  scan(pattern: string, bound: BoundStep): AsyncGenerator<string[]> {
    return scanNode(this.client, pattern, bound);
  }

  masterAddress(): string | undefined {
    return addressOf(this.client);
  }

  shards(): undefined {
    return undefined;
  }

  replicationInfo(): Promise<string> {
    return this.client.info("replication");
  }
}
