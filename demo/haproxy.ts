import { writeFile } from "node:fs/promises";
import { join } from "node:path";

/** HAProxy in front of the app instances: round robin, health checks, retries where safe. */
export function haproxyConfig({
  port,
  instances,
}: {
  port: number;
  instances: { id: string; port: number }[];
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
