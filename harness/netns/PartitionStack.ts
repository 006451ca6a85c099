import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { AppProcess } from "../AppProcess.js";
import { Browser } from "../Browser.js";
import { UserLoad } from "../UserLoad.js";
import { pollUntil } from "../poll.js";
import type { RedisSessionOptions } from "../../src/index.js";
import { Network } from "./Network.js";
import { defaultServerKind } from "../serverKind.js";
import type { ServerKind } from "../serverKind.js";
import { ask, LatencyProxy, NetNode, PROXY_PORT, REDIS_PORT, SENTINEL_PORT } from "./nodes.js";

export const MASTER_NAME = "mymaster";
/** Data nodes, Sentinels (each on a host of its own) and app instances: one host each. */
export const DATA = ["n1", "n2", "n3"] as const;
export const SENTINELS = ["s1", "s2", "s3"] as const;
export const APPS = ["a1", "a2"] as const;

export interface StackOptions {
  /** The apps' redisSession options besides `redis`. */
  appOptions?: Partial<RedisSessionOptions>;
  downAfterMs?: number;
  failoverTimeoutMs?: number;
  users?: number;
  /** Data nodes behind a latency proxy each (clients, replicas and Sentinels go through it). */
  proxied?: boolean;
  /** Start the two app instances and log the users in (default true). */
  apps?: boolean;
  /** Each user's pause between requests (ms). */
  thinkMs?: number;
  /** Users check their cart out (read, count what is missing, empty it) every so many items. */
  checkoutEvery?: number;
  /** Which server runs the data nodes and Sentinels. */
  kind?: ServerKind;
}

/**
 * The partition harness: three data nodes (n1 master), three Sentinels and two app instances,
 * each in a network namespace of its own on one bridge, 20 logged-in users pinned to the
 * instances, and an observer outside every cut.
 */
export class PartitionStack {
  readonly data: NetNode[] = [];
  readonly sentinels: NetNode[] = [];
  readonly apps: AppProcess[] = [];
  readonly proxies = new Map<string, LatencyProxy>();
  load!: UserLoad;

  private constructor(
    readonly network: Network,
    readonly dir: string,
    readonly options: Required<Omit<StackOptions, "appOptions" | "checkoutEvery">> & StackOptions,
  ) {}

  static async start(options: StackOptions = {}): Promise<PartitionStack> {
    const network = await Network.create([...DATA, ...SENTINELS, ...APPS]);
    const dir = await mkdtemp(join(tmpdir(), "rhs-partition-"));
    const stack = new PartitionStack(network, dir, {
      downAfterMs: 1_000,
      failoverTimeoutMs: 3_000,
      users: 20,
      proxied: false,
      apps: true,
      thinkMs: 100,
      kind: defaultServerKind(),
      ...options,
    });
    try {
      await stack.#boot();
    } catch (error) {
      const logs = await stack.logs();
      await stack.stop();
      throw new Error(`partition stack did not start:\n${logs}`, { cause: error });
    }
    return stack;
  }

  /** The data node on `host`. */
  node(host: string): NetNode {
    const node = this.data.find((candidate) => candidate.host === host);
    if (node === undefined) throw new Error(`no data node on ${host}`);
    return node;
  }

  get redisOption(): { sentinels: { host: string; port: number }[]; name: string } {
    return {
      sentinels: this.sentinels.map(({ address }) => ({ host: address, port: SENTINEL_PORT })),
      name: MASTER_NAME,
    };
  }

  /** The node on `host`, named after it, with its files in a directory of that name. */
  #netNode(host: string, port: number, sentinel: boolean): NetNode {
    const { network, dir } = this;
    const { kind } = this.options;
    const address = network.address(host);
    return new NetNode(host, host, address, port, join(dir, host), sentinel, network, kind);
  }

  async #boot(): Promise<void> {
    const { network, options } = this;
    const port = options.proxied ? PROXY_PORT : REDIS_PORT;
    const master = network.address("n1");
    for (const host of DATA) {
      const node = this.#netNode(host, port, false);
      const lines = ["appendonly yes", 'save ""', "repl-diskless-sync-delay 0"];
      // Replicas reach the master through its proxy, so the master sees them all at its own
      // address: each says where it is.
      if (options.proxied) {
        lines.push(`replica-announce-ip ${node.address}`, `replica-announce-port ${PROXY_PORT}`);
      }
      if (host !== "n1") lines.push(`replicaof ${master} ${port}`);
      await node.configure(lines, REDIS_PORT);
      this.data.push(node);
    }
    for (const host of SENTINELS) {
      const node = this.#netNode(host, SENTINEL_PORT, true);
      await node.configure(
        [
          `sentinel monitor ${MASTER_NAME} ${master} ${port} 2`,
          `sentinel down-after-milliseconds ${MASTER_NAME} ${options.downAfterMs}`,
          `sentinel failover-timeout ${MASTER_NAME} ${options.failoverTimeoutMs}`,
          `sentinel parallel-syncs ${MASTER_NAME} 1`,
        ],
        SENTINEL_PORT,
      );
      this.sentinels.push(node);
    }
    if (options.proxied) {
      const proxies = await Promise.all(DATA.map((host) => LatencyProxy.start(network, host)));
      proxies.forEach((proxy, i) => this.proxies.set(DATA[i] ?? "", proxy));
    }
    await Promise.all(this.data.map((node) => node.start()));
    await Promise.all(this.sentinels.map((node) => node.start()));
    await this.converged(30_000);
    if (!options.apps) return;
    const appOptions = { redis: this.redisOption, ...options.appOptions };
    this.apps.push(
      ...(await Promise.all(
        APPS.map((host, i) =>
          AppProcess.start(
            `app-${String.fromCharCode(97 + i)}`,
            appOptions,
            {},
            {
              host: network.address(host),
              spawner: (command, args, spawnOptions) =>
                network.spawn(host, command, args, spawnOptions),
            },
          ),
        ),
      )),
    );
    this.load = new UserLoad(
      this.apps.map((app) => app.url),
      options.users,
      options.thinkMs,
      { pinned: true, checkoutEvery: options.checkoutEvery },
    );
    await this.load.loginAll();
  }

  /**
   * Waits until one data node is master, every other one replicates it with its link up, and
   * every Sentinel names it; returns that node.
   */
  async converged(timeoutMs = 60_000): Promise<NetNode> {
    return pollUntil(
      "one master, every replica linked to it, every Sentinel agreeing",
      async () => {
        const roles = await Promise.all(this.data.map((node) => roleOf(node)));
        const masters = this.data.filter((_, i) => roles[i]?.[0] === "master");
        const master = masters[0];
        if (masters.length !== 1 || master === undefined) return false;
        for (const [i, node] of this.data.entries()) {
          if (node === master) continue;
          const role = roles[i];
          // ["slave", host, port, state, offset]
          if (role?.[0] !== "slave" || `${String(role[1])}:${String(role[2])}` !== master.endpoint)
            return false;
          if (role[3] !== "connected") return false;
        }
        for (const sentinel of this.sentinels) {
          // Sentinel must name the master and know both replicas and the other Sentinels: a
          // replica it has not discovered yet is never reconfigured after a failover.
          const reply = (await ask(sentinel.address, SENTINEL_PORT, [
            "SENTINEL",
            "master",
            MASTER_NAME,
          ])) as string[];
          const fields = new Map<string, string>();
          for (let i = 0; i + 1 < reply.length; i += 2)
            fields.set(reply[i] ?? "", reply[i + 1] ?? "");
          if (`${fields.get("ip") ?? ""}:${fields.get("port") ?? ""}` !== master.endpoint)
            return false;
          if (fields.get("num-slaves") !== String(this.data.length - 1)) return false;
          if (fields.get("num-other-sentinels") !== String(this.sentinels.length - 1)) return false;
        }
        return master;
      },
      { timeoutMs, intervalMs: 100 },
    );
  }

  /** Tails of every node's log and the apps' stderr, for a failing scenario. */
  async logs(): Promise<string> {
    const parts: string[] = [];
    for (const node of [...this.data, ...this.sentinels]) {
      const text = await node.log();
      parts.push(`--- ${node.name} (${node.endpoint})\n${text.split("\n").slice(-40).join("\n")}`);
    }
    for (const app of this.apps) parts.push(`--- ${app.instance}\n${app.output.slice(-4000)}`);
    return parts.join("\n");
  }

  /**
   * Every node's log lines and the apps' event lines stamped between `from` and `to` (epoch ms),
   * merged in time order: what happened around acknowledged writes that were lost.
   */
  async logsAround(from: number, to: number): Promise<string> {
    const lines: { at: number; text: string }[] = [];
    for (const node of [...this.data, ...this.sentinels]) {
      for (const line of (await node.log()).split("\n")) {
        const stamp = /\d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2}\.\d{3}/.exec(line)?.[0];
        const at = stamp === undefined ? NaN : Date.parse(stamp);
        if (at >= from && at <= to) lines.push({ at, text: `${node.name} ${line}` });
      }
    }
    for (const app of this.apps) {
      for (const line of app.output.split("\n")) {
        const at = Date.parse(/^\S+Z/.exec(line)?.[0] ?? "");
        if (at >= from && at <= to) lines.push({ at, text: `${app.instance} ${line}` });
      }
    }
    return lines
      .sort((a, b) => a.at - b.at)
      .map(({ text }) => text)
      .join("\n");
  }

  async stop(): Promise<void> {
    // An app closing its connections on a cut-off path would wait for answers that never come.
    await this.network.heal().catch(() => undefined);
    await Promise.all(this.apps.map((app) => app.stop(5_000)));
    for (const proxy of this.proxies.values()) proxy.stop();
    await Promise.all([...this.data, ...this.sentinels].map((node) => node.process.stop(5_000)));
    this.network.destroySync();
    await rm(this.dir, { recursive: true, force: true });
  }
}

type Role = unknown[] | undefined;

async function roleOf(node: NetNode, timeoutMs = 300): Promise<Role> {
  try {
    return (await ask(node.address, node.port, ["ROLE"], timeoutMs)) as unknown[];
  } catch {
    return undefined;
  }
}

/**
 * Polls ROLE on every data node every 100 ms from outside every cut, and records the most
 * masters seen at once.
 */
export class RoleObserver {
  mostMasters = 0;
  #running = true;
  readonly #loop: Promise<void>;

  constructor(private readonly stack: PartitionStack) {
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    while (this.#running) {
      const roles = await Promise.all(this.stack.data.map((node) => roleOf(node)));
      const masters = roles.filter((role) => role?.[0] === "master").length;
      this.mostMasters = Math.max(this.mostMasters, masters);
      await delay(100);
    }
  }

  async stop(): Promise<number> {
    this.#running = false;
    await this.#loop;
    return this.mostMasters;
  }
}

/**
 * Reads each user's cart through the instance the user does not use, over and over, and counts
 * the reads that miss an item acknowledged before the read was sent.
 */
export class StaleReadProbe {
  reads = 0;
  stale = 0;
  #running = true;
  readonly #loop: Promise<void>;

  constructor(
    private readonly load: UserLoad,
    private readonly urls: string[],
  ) {
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    const browser = new Browser();
    while (this.#running) {
      for (const user of this.load.users) {
        const url = this.urls[(user.home + 1) % this.urls.length];
        if (url === undefined || user.browser.cookie === undefined) continue;
        browser.cookie = user.browser.cookie;
        const sentAt = Date.now();
        const expected = user.acknowledged.filter(
          (item) => (user.acknowledgedAt.get(item) ?? Infinity) < sentAt,
        );
        try {
          const response = await browser.request(`${url}/cart`, { timeoutMs: 3_000 });
          if (response.status !== 200) continue;
          this.reads++;
          const cart = new Set((response.body as { cart: string[] }).cart);
          if (expected.some((item) => !cart.has(item))) this.stale++;
        } catch {
          // no answer (a cut-off instance): not a read
        }
      }
      await delay(50);
    }
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }
}

/** What the users' carts hold at the end. */
export interface CartCheck {
  acknowledgedLost: number;
  /** Items that appear more than once in a cart. */
  duplicated: number;
  loggedOut: number;
  /** The acknowledged items missing, with when they were acknowledged. */
  lost: { user: string; item: string; acknowledgedAt: number }[];
}

/**
 * Reads every user's cart back (through its own instance) and compares it with what was
 * acknowledged. A 503 (a failover still settling) is asked again, for up to 30 s.
 */
export async function checkCarts(load: UserLoad, urls: string[]): Promise<CartCheck> {
  const check: CartCheck = { acknowledgedLost: 0, duplicated: 0, loggedOut: 0, lost: [] };
  for (const user of load.users) {
    const url = urls[user.home % urls.length] ?? "";
    const response = await pollUntil(
      `${user.name}'s cart to be readable`,
      async () => {
        const reply = await user.browser.request(`${url}/cart`, { timeoutMs: 12_000 });
        return reply.status === 503 ? false : reply;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    if (response.status !== 200) {
      check.loggedOut++;
      check.acknowledgedLost += user.acknowledged.length;
      continue;
    }
    const items = (response.body as { cart: string[] }).cart;
    const cart = new Set(items);
    check.duplicated += items.length - cart.size;
    for (const item of user.acknowledged) {
      if (cart.has(item)) continue;
      check.acknowledgedLost++;
      check.lost.push({
        user: user.name,
        item,
        acknowledgedAt: user.acknowledgedAt.get(item) ?? 0,
      });
    }
  }
  return check;
}
