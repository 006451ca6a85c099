import { execFile, execFileSync, spawn } from "node:child_process";
import type { ChildProcess, SpawnOptions } from "node:child_process";
import {
  mkdirSync,
  openSync,
  closeSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * Every namespace this harness makes is `rhs-<n>-<host>` and every link `r<n>x<i>`, where n is
 * the network's subnet, 10.213.<n>.0/24, reserved by a lock file naming the owning process: what
 * a crashed run left behind is found by that and removed by name.
 */
const PREFIX = "rhs";
/** The lock files, one per subnet in use (`<n>`, holding the owner's pid). */
const LOCKS = join(tmpdir(), "rhs-netns");

/**
 * Hosts on one Ethernet bridge, each in a network namespace of its own, and this process (the
 * observer: test runner, load, HAProxy) on the bridge too, never cut off. Partitions are iptables
 * DROP rules in the hosts' INPUT chains: packets vanish, as in a real partition, and TCP notices
 * nothing for minutes.
 *
 * Root only. Everything is removed by destroy(), on process exit, and — for a run that was
 * SIGKILLed — by the next Network.create().
 */
export class Network {
  readonly #addresses = new Map<string, string>();
  #destroyed = false;

  private constructor(
    private readonly id: string,
    /** The third octet of 10.213.x.0/24. */
    private readonly subnet: number,
    hosts: string[],
  ) {
    hosts.forEach((host, i) => this.#addresses.set(host, `10.213.${subnet}.${i + 11}`));
  }

  /**
   * Why partitions cannot be made here (not root, no iptables), or undefined when they can.
   * The partition tests skip with this reason.
   */
  static async unavailableReason(): Promise<string | undefined> {
    if (process.platform !== "linux")
      return `network namespaces need Linux, not ${process.platform}`;
    const probe = `${PREFIX}-probe-${process.pid}`;
    try {
      await run("ip", ["netns", "add", probe]);
    } catch (error) {
      return `\`ip netns add\` was refused (root needed): ${firstLine(error)}`;
    }
    try {
      await run("ip", ["netns", "exec", probe, "iptables", "-w", "-L", "INPUT", "-n"]);
      return undefined;
    } catch (error) {
      return `iptables does not work in a network namespace (install the \`iptables\` package): ${firstLine(error)}`;
    } finally {
      await run("ip", ["netns", "del", probe]).catch(() => undefined);
    }
  }

  /** Creates the bridge and one namespace per host, with addresses 10.213.x.11, .12, … */
  static async create(hosts: string[]): Promise<Network> {
    removeLeftovers();
    const subnet = reserveSubnet();
    const network = new Network(String(subnet), subnet, hosts);
    live.add(network);
    try {
      await network.#build(hosts);
    } catch (error) {
      network.destroySync();
      throw error;
    }
    return network;
  }

  /** The address of `host` on the bridge. */
  address(host: string): string {
    const address = this.#addresses.get(host);
    if (address === undefined) throw new Error(`no host ${host} on this network`);
    return address;
  }

  /** The observer's address (this process's side of the bridge). */
  get observer(): string {
    return `10.213.${this.subnet}.254`;
  }

  get hosts(): string[] {
    return [...this.#addresses.keys()];
  }

  /** The namespace of `host`. */
  namespace(host: string): string {
    this.address(host);
    return `${PREFIX}-${this.id}-${host}`;
  }

  /** Starts `command` inside `host`'s namespace (`ip netns exec` execs it: the pid is its own). */
  spawn(host: string, command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    return spawn("ip", ["netns", "exec", this.namespace(host), command, ...args], options);
  }

  /** Every host in `a` stops hearing every host in `b`, and the other way round. */
  async split(a: string[], b: string[]): Promise<void> {
    const rules = new Map<string, string[]>();
    for (const x of a) {
      for (const y of b) {
        push(rules, x, `-A INPUT -s ${this.address(y)} -j DROP`);
        push(rules, y, `-A INPUT -s ${this.address(x)} -j DROP`);
      }
    }
    await this.#apply(rules);
  }

  /** `host` stops hearing `from` (one way only). */
  async oneWay(host: string, from: string): Promise<void> {
    await this.#apply(new Map([[host, [`-A INPUT -s ${this.address(from)} -j DROP`]]]));
  }

  /** `host` stops hearing the observer (this process). */
  async deafenToObserver(host: string): Promise<void> {
    await this.#apply(new Map([[host, [`-A INPUT -s ${this.observer} -j DROP`]]]));
  }

  /** Drops a share of the packets between `a` and `b`, both ways. */
  async lossy(a: string, b: string, probability: number): Promise<void> {
    const rule = (from: string) =>
      `-A INPUT -s ${this.address(from)} -m statistic --mode random --probability ${probability} -j DROP`;
    await this.#apply(
      new Map([
        [a, [rule(b)]],
        [b, [rule(a)]],
      ]),
    );
  }

  /** Removes every rule: all hosts hear each other again. */
  async heal(): Promise<void> {
    await Promise.all(
      this.hosts.map((host) =>
        run("ip", ["netns", "exec", this.namespace(host), "iptables", "-w", "-F", "INPUT"]),
      ),
    );
  }

  /** Removes the namespaces (and with them their links and rules) and frees the subnet. */
  destroySync(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    live.delete(this);
    try {
      removeOwnedBy(this.id);
    } finally {
      rmSync(join(LOCKS, String(this.subnet)), { force: true });
    }
  }

  async #build(hosts: string[]): Promise<void> {
    const sw = `${PREFIX}-${this.id}-sw`;
    const ip = (...args: string[]) => run("ip", args);
    await ip("netns", "add", sw);
    await ip("-n", sw, "link", "set", "lo", "up");
    await ip("-n", sw, "link", "add", "br0", "type", "bridge");
    await ip("-n", sw, "link", "set", "br0", "up");
    const attach = async (index: number, inside: string | undefined, address: string) => {
      // Link names are at most 15 bytes: r<pid>x<index> and its peer p<pid>x<index>.
      const near = `r${this.id}x${index}`;
      const far = `p${this.id}x${index}`;
      await ip("link", "add", near, "type", "veth", "peer", "name", far);
      await ip("link", "set", far, "netns", sw);
      await ip("-n", sw, "link", "set", far, "master", "br0", "up");
      if (inside === undefined) {
        await ip("addr", "add", `${address}/24`, "dev", near);
        await ip("link", "set", near, "up");
        return;
      }
      await ip("link", "set", near, "netns", inside);
      await ip("-n", inside, "link", "set", near, "name", "eth0");
      await ip("-n", inside, "addr", "add", `${address}/24`, "dev", "eth0");
      await ip("-n", inside, "link", "set", "eth0", "up");
    };
    let index = 0;
    for (const host of hosts) {
      const namespace = this.namespace(host);
      await ip("netns", "add", namespace);
      await ip("-n", namespace, "link", "set", "lo", "up");
      await attach(index++, namespace, this.address(host));
    }
    await attach(index, undefined, this.observer);
  }

  async #apply(rules: Map<string, string[]>): Promise<void> {
    // One iptables-restore per host, all at once: the cut lands within a few ms everywhere.
    await Promise.all(
      [...rules].map(async ([host, lines]) => {
        const child = spawn(
          "ip",
          ["netns", "exec", this.namespace(host), "iptables-restore", "-w", "--noflush"],
          {
            stdio: ["pipe", "ignore", "pipe"],
          },
        );
        let stderr = "";
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        child.stdin.end(["*filter", ...lines, "COMMIT", ""].join("\n"));
        const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
        if (code !== 0)
          throw new Error(`iptables-restore in ${host} failed (${String(code)}): ${stderr}`);
      }),
    );
  }
}

const live = new Set<Network>();
function destroyLive(): void {
  for (const network of live) network.destroySync();
}
process.on("exit", destroyLive);
// Killed by a signal, Node exits without "exit": clean up, then die of the signal as before.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    destroyLive();
    process.kill(process.pid, signal);
  });
}

function push(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

/** Reserves a free 10.213.x.0/24 with an exclusive lock file naming this process. */
function reserveSubnet(): number {
  mkdirSync(LOCKS, { recursive: true });
  for (let subnet = 1; subnet < 255; subnet++) {
    const file = join(LOCKS, String(subnet));
    try {
      closeSync(openSync(file, "wx"));
    } catch {
      continue;
    }
    writeFileSync(file, String(process.pid));
    return subnet;
  }
  throw new Error(`no free subnet: ${LOCKS} holds 254 locks`);
}

/** Removes namespaces, links and locks of networks whose process is gone. */
function removeLeftovers(): void {
  mkdirSync(LOCKS, { recursive: true });
  for (const name of readdirSync(LOCKS)) {
    const file = join(LOCKS, name);
    const owner = Number(readFileSync(file, "utf8"));
    if (Number.isInteger(owner) && owner > 0 && alive(owner)) continue;
    removeOwnedBy(name);
    rmSync(file, { force: true });
  }
}

/** Deletes the namespaces `rhs-<id>-*` and the links `r<id>x*` left in this one. */
function removeOwnedBy(owner: string): void {
  const namespaces = execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter((name) => name.startsWith(`${PREFIX}-${owner}-`));
  for (const name of namespaces) {
    // Whatever still runs inside (a run that was killed could not stop its servers) goes first:
    // a namespace whose name is deleted lives on, with its processes, for as long as they do.
    const pids = execFileSync("ip", ["netns", "pids", name], { encoding: "utf8" })
      .split("\n")
      .map(Number)
      .filter((pid) => Number.isInteger(pid) && pid > 0);
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    quietly("ip", ["netns", "del", name]);
  }
  const links = execFileSync("ip", ["-o", "link", "show"], { encoding: "utf8" })
    .split("\n")
    .map((line) => /^\d+: ([^:@]+)/.exec(line)?.[1] ?? "")
    .filter((name) => name.startsWith(`r${owner}x`));
  // Deleting a namespace takes its veth pairs with it, a moment later: a link listed here may be
  // gone by the time it is deleted.
  for (const name of links) quietly("ip", ["link", "del", name]);
}

/** Runs a clean-up command; one whose object is already gone is fine. */
function quietly(command: string, args: string[]): void {
  try {
    execFileSync(command, args, { stdio: "ignore" });
  } catch {
    // already removed
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function firstLine(error: unknown): string {
  const text =
    error instanceof Error
      ? ((error as { stderr?: string }).stderr ?? error.message)
      : String(error);
  return text.trim().split("\n")[0] ?? "";
}
