import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../harness/ports.js";
import { HAProxy } from "../harness/HAProxy.js";
import { SentinelStack } from "../harness/stacks.js";
import { AppInstance } from "./AppInstance.js";

export interface DemoStackOptions {
  instances: number;
  /** The load balancer's port; a free one when undefined. */
  port?: number | undefined;
  /** Progress, one line per step. */
  progress: (line: string) => void;
  /** A process died that nobody asked to stop. */
  onUnexpectedExit: (what: string) => void;
}

/**
 * The demo's processes: Redis master + 2 replicas (AOF) + 3 Sentinels, N app instances, HAProxy.
 * Everything on 127.0.0.1, in one temp dir, stopped and removed by stop().
 */
export class DemoStack {
  topology: SentinelStack | undefined;
  readonly instances: AppInstance[] = [];
  haproxy: HAProxy | undefined;
  port = 0;
  #dir: string | undefined;

  constructor(private readonly options: DemoStackOptions) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const { progress } = this.options;
    this.#dir = await mkdtemp(join(tmpdir(), "rhs-demo-"));
    progress("starting Redis: master + 2 replicas (AOF), 3 Sentinels (quorum 2, down after 2 s)");
    this.topology = await SentinelStack.start();

    progress(`starting ${this.options.instances} app instances`);
    const env = {
      SESSION_SECRET: randomBytes(32).toString("base64url"),
      DEMO_REDIS: JSON.stringify(this.topology.redisOption),
    };
    for (let i = 1; i <= this.options.instances; i++) {
      this.instances.push(
        new AppInstance(`app-${i}`, await freePort(), env, (instance, code) => {
          this.options.onUnexpectedExit(
            `${instance.id} exited unexpectedly (code ${String(code)})`,
          );
        }),
      );
    }
    await Promise.all(this.instances.map((instance) => instance.start()));

    progress("starting HAProxy");
    this.port = this.options.port ?? (await freePort());
    const haproxy = await HAProxy.start(this.#dir, {
      port: this.port,
      instances: this.instances.map(({ id, port }) => ({ id, port })),
    });
    this.haproxy = haproxy;
    haproxy.process.onExit = () => {
      this.options.onUnexpectedExit(`haproxy exited unexpectedly: ${haproxy.process.stderr}`);
    };
  }

  /** Stops every process (awaited) and removes the temp dirs. */
  async stop(): Promise<void> {
    if (this.haproxy) this.haproxy.process.onExit = undefined;
    await this.haproxy?.stop();
    await Promise.all(this.instances.map((instance) => instance.stop()));
    await this.topology?.stop();
    if (this.#dir !== undefined) await rm(this.#dir, { recursive: true, force: true });
  }

  /** What runs where, as the `--json` line and the control panel show it. */
  async describe(): Promise<DemoDescription> {
    const topology = this.topology;
    if (topology === undefined) throw new Error("the stack is not started");
    const master = await topology.currentMaster().catch(() => undefined);
    const node = (server: (typeof topology.servers)[number]) => ({
      name: server.name,
      port: server.port,
      pid: server.process.running ? server.process.pid : null,
    });
    return {
      redis: {
        master: master ? node(master) : null,
        replicas: topology.servers.filter((server) => server !== master).map(node),
        sentinels: topology.sentinels.map(node),
      },
      instances: this.instances.map(({ id, port, pid }) => ({ id, port, pid: pid ?? null })),
      loadBalancer: {
        port: this.port,
        pid: this.haproxy?.process.running ? this.haproxy.process.pid : null,
      },
    };
  }
}

interface NodeDescription {
  name: string;
  port: number;
  pid: number | null;
}

export interface DemoDescription {
  redis: {
    master: NodeDescription | null;
    replicas: NodeDescription[];
    sentinels: NodeDescription[];
  };
  instances: { id: string; port: number; pid: number | null }[];
  loadBalancer: { port: number; pid: number | null };
}
