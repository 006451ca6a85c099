import type { Redis } from "ioredis";
import { duplicateClient } from "./createRedisClient.js";
import { CorkedCommands } from "./CorkedCommands.js";
import { ServerClock } from "./ServerClock.js";

/** One writer connection and what is known of it. */
export class WriterLane {
  readonly connection: Redis;
  readonly commands: CorkedCommands;
  /** Counts (re)connections, to tell whether a write and its WAIT met one master. */
  epoch = 0;
  /** The epoch in which the write script was last sent in full (EVAL): later, EVALSHA finds it. */
  scriptEpoch = -1;
  /** A batch is in flight: its WAIT holds the connection. */
  busy = false;
  /** The server's clock, for the writes' deadlines. */
  readonly clock: ServerClock;

  constructor(client: Redis) {
    this.connection = duplicateClient(client);
    this.connection.on("ready", () => this.epoch++);
    this.commands = new CorkedCommands(this.connection);
    this.clock = new ServerClock(this.connection, () => this.epoch);
  }
}

/** Replicas connected to the master, from ROLE (which does not block). */
export async function connectedReplicas(connection: Redis): Promise<number> {
  const role = (await connection.call("ROLE")) as [string, number, unknown[]?];
  return role[0] === "master" ? (role[2]?.length ?? 0) : 0;
}
