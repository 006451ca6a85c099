import { rm } from "node:fs/promises";
import type { RedisServer } from "./RedisServer.js";

/** Servers started for a test; everything here is torn down by stop(). */
export abstract class RedisStack {
  protected constructor(readonly dir: string) {}

  abstract get nodes(): RedisServer[];

  /** Stops every process (awaited) and removes the temp dir. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.process.stop()));
    await rm(this.dir, { recursive: true, force: true });
  }

  /** Runs `start`; if it fails, stops whatever did start and throws with the servers' logs. */
  protected async boot(what: string, start: () => Promise<void>): Promise<void> {
    try {
      await start();
    } catch (error) {
      const logs = await this.logs();
      await this.stop();
      throw new Error(`${what} did not start:\n${logs}`, { cause: error });
    }
  }

  /** The tail of every node's log, for a failing test. */
  async logs(lines = 40): Promise<string> {
    const parts = await Promise.all(
      this.nodes.map(
        async (node) => `--- ${node.name} (port ${node.port})\n${await node.logTail(lines)}`,
      ),
    );
    return parts.join("\n");
  }
}
