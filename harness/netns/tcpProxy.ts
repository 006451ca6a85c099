// A TCP proxy that delays what it forwards, for the latency scenarios (this kernel has no netem).
// Run inside a Redis host's namespace: `node --import tsx tcpProxy.ts <listen host:port> <target host:port>`.
// Each line on stdin sets the delay: `{"delayMs":50,"sources":["10.213.1.21"]}` delays every byte,
// both ways, on connections from those addresses (all when `sources` is absent). Prints "ready".
import { createServer, connect } from "node:net";
import type { Socket } from "node:net";
import { createInterface } from "node:readline";

const [listen = "", target = ""] = process.argv.slice(2);
const [listenHost, listenPort] = split(listen);
const [targetHost, targetPort] = split(target);

let delayMs = 0;
let sources: Set<string> | undefined;

function split(address: string): [string, number] {
  const at = address.lastIndexOf(":");
  return [address.slice(0, at), Number(address.slice(at + 1))];
}

/** Writes chunks to `to` in order, each no sooner than the delay in force when it arrived. */
class DelayedPipe {
  readonly #queue: { due: number; chunk: Buffer }[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly to: Socket,
    private readonly delayed: () => number,
  ) {}

  push(chunk: Buffer): void {
    const wait = this.delayed();
    if (wait === 0 && this.#queue.length === 0) {
      this.to.write(chunk);
      return;
    }
    this.#queue.push({ due: Date.now() + wait, chunk });
    this.#schedule();
  }

  #schedule(): void {
    if (this.#timer !== undefined) return;
    const first = this.#queue[0];
    if (first === undefined) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        const now = Date.now();
        while (this.#queue[0] !== undefined && this.#queue[0].due <= now) {
          this.to.write(this.#queue.shift()?.chunk ?? Buffer.alloc(0));
        }
        this.#schedule();
      },
      Math.max(0, first.due - Date.now()),
    );
  }

  close(): void {
    clearTimeout(this.#timer);
  }
}

const server = createServer((client) => {
  const upstream = connect(targetPort, targetHost);
  const from = (client.remoteAddress ?? "").replace(/^::ffff:/, "");
  const delayed = () => (sources === undefined || sources.has(from) ? delayMs : 0);
  const up = new DelayedPipe(upstream, delayed);
  const down = new DelayedPipe(client, delayed);
  client.on("data", (chunk: Buffer) => up.push(chunk));
  upstream.on("data", (chunk: Buffer) => down.push(chunk));
  const close = () => {
    up.close();
    down.close();
    client.destroy();
    upstream.destroy();
  };
  client.on("error", close);
  upstream.on("error", close);
  client.on("close", close);
  upstream.on("close", close);
});

server.listen(listenPort, listenHost, () => {
  process.stdout.write("ready\n");
});

for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === "") continue;
  const settings = JSON.parse(line) as { delayMs?: number; sources?: string[] };
  delayMs = settings.delayMs ?? 0;
  sources = settings.sources === undefined ? undefined : new Set(settings.sources);
}
// stdin closed: the harness is gone.
process.exit(0);
