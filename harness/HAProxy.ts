import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pollUntil } from "./poll.js";
import { ServerProcess } from "./ServerProcess.js";

/** An app instance HAProxy balances over. */
export interface Upstream {
  id: string;
  port: number;
}

/**
 * HAProxy on 127.0.0.1:`port` in front of app instances (`haproxyConfig`), started from a
 * config written in `dir`; ready once it answers `/healthz` through an instance.
 */
export class HAProxy {
  private constructor(
    readonly port: number,
    readonly process: ServerProcess,
  ) {}

  static async start(
    dir: string,
    options: { port: number; instances: Upstream[] },
  ): Promise<HAProxy> {
    const config = await writeHaproxyConfig(dir, options);
    const process = new ServerProcess("haproxy", "haproxy", ["-f", config, "-db"]);
    process.start();
    const haproxy = new HAProxy(options.port, process);
    await pollUntil("HAProxy to serve /healthz", async () => {
      if (!process.running) throw new Error(`haproxy exited: ${process.stderr}`);
      const response = await fetch(`${haproxy.url}/healthz`);
      return response.ok;
    });
    return haproxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  stop(): Promise<void> {
    return this.process.stop();
  }
}

/** HAProxy in front of the app instances: round robin, health checks, retries where safe. */
export function haproxyConfig({
  port,
  instances,
}: {
  port: number;
  instances: Upstream[];
}): string {
  const servers = instances
    .map(({ id, port: instancePort }) => `  server ${id} 127.0.0.1:${instancePort} check`)
    .join("\n");
  return `global
  maxconn 4096

defaults
  mode http
  option httplog
  timeout connect 1s
  timeout client 30s
  # Above the app's wait bound (unavailable.waitMs, 20 s in the demo): a request waiting out a
  # Redis failover is not cut off by the load balancer.
  timeout server 25s
  timeout http-request 10s
  timeout check 3s
  # A request whose instance refused the connection or died before answering goes to another.
  retries 3
  option redispatch 1
  retry-on conn-failure empty-response junk-response response-timeout

frontend web
  bind 127.0.0.1:${port}
  # Only idempotent requests are re-sent once they reached an instance; a POST is never repeated
  # (conn-failure retries happen before anything was sent).
  http-request disable-l7-retry if METH_POST
  default_backend apps

backend apps
  balance roundrobin
  option httpchk GET /healthz
  http-check expect status 200
  default-server inter 500ms fall 3 rise 2
${servers}
`;
}

export async function writeHaproxyConfig(
  dir: string,
  options: Parameters<typeof haproxyConfig>[0],
): Promise<string> {
  const file = join(dir, "haproxy.cfg");
  await writeFile(file, haproxyConfig(options));
  return file;
}
