// `npm run demo [-- --instances N --port P --control-port P --cluster --cache-ttl S --json]`: the whole
// load-balanced stack on this machine (Sentinel, or with --cluster a 3-shard Redis Cluster;
// PostgreSQL behind the DB cache), and a control panel to break it.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import type { Server } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { freePort } from "../harness/ports.js";
import { postgresBinaries } from "../harness/PostgresServer.js";
import { createControlPanel } from "./control/server.js";
import { DemoStack } from "./DemoStack.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const { values } = parseArgs({
  options: {
    instances: { type: "string", default: "3" },
    port: { type: "string" },
    "control-port": { type: "string" },
    json: { type: "boolean", default: false },
    cluster: { type: "boolean", default: false },
    server: { type: "string", default: "redis" },
    "cache-ttl": { type: "string" },
  },
});
const instances = Number(values.instances);
const json = values.json;
// With --json, stdout carries only the ready line; progress goes to stderr.
const say = (line: string) => (json ? process.stderr : process.stdout).write(`${line}\n`);

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

if (!Number.isInteger(instances) || instances < 1 || instances > 20) {
  fail("--instances must be a whole number from 1 to 20");
}
const cacheTtl = values["cache-ttl"] === undefined ? undefined : Number(values["cache-ttl"]);
if (cacheTtl !== undefined && !(Number.isInteger(cacheTtl) && cacheTtl >= 1)) {
  fail("--cache-ttl must be a whole number of seconds, 1 or more");
}
const server = values.server;
if (server !== "redis" && server !== "valkey") fail("--server must be redis or valkey");
const missing = [`${server}-server`, `${server}-sentinel`, "haproxy"].filter(
  (binary) => spawnSync("sh", ["-c", `command -v ${binary}`]).status !== 0,
);
if (postgresBinaries() === undefined) missing.push("postgresql");
if (missing.length > 0) {
  fail(
    `The demo needs ${missing.join(", ")}. On Debian or Ubuntu:\n` +
      "  sudo apt-get install -y redis-server redis-sentinel haproxy postgresql\n" +
      "(Valkey: valkey-server valkey-sentinel, from bookworm-backports on Debian 12)",
  );
}

function newestIn(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestIn(path) : statSync(path).mtimeMs);
  }
  return newest;
}
const built = join(root, "dist", "index.js");
if (!existsSync(built) || statSync(built).mtimeMs < newestIn(join(root, "src"))) {
  say("· building the library (dist/ is missing or older than src/)");
  execFileSync("npm", ["run", "--silent", "build"], {
    cwd: root,
    stdio: ["ignore", "ignore", "inherit"],
  });
}

let stopping = false;
const stack = new DemoStack({
  instances,
  cluster: values.cluster,
  kind: server,
  cacheTtl,
  port: values.port === undefined ? undefined : Number(values.port),
  progress: (line) => say(`· ${line}`),
  onUnexpectedExit: (what) => {
    if (!stopping) say(`! ${what}`);
  },
});
let control: ReturnType<typeof createControlPanel> | undefined;
let controlServer: Server | undefined;

let stopped: Promise<never> | undefined;
/**
 * Stops everything, then exits. Ctrl-C in a terminal signals the whole process group, so the
 * launcher hears SIGINT twice (from the terminal, and forwarded by npm): the second call waits
 * for the first instead of exiting before the temp dirs are removed.
 */
function shutdown(code: number): Promise<never> {
  stopped ??= (async () => {
    stopping = true;
    say("· stopping every process");
    controlServer?.closeAllConnections();
    controlServer?.close();
    await control?.close();
    await stack.stop();
    process.exit(code);
  })();
  return stopped;
}
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

try {
  await stack.start();
  control = createControlPanel(stack);
  const controlPort =
    values["control-port"] === undefined ? await freePort() : Number(values["control-port"]);
  controlServer = await new Promise<Server>((resolve) => {
    const server: Server | undefined = control?.app.listen(controlPort, "127.0.0.1", () => {
      if (server) resolve(server);
    });
  });
  const description = await stack.describe();
  const controlUrl = `http://127.0.0.1:${controlPort}`;
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ url: stack.url, control: controlUrl, ...description })}\n`,
    );
  } else {
    const rows = [
      ["load balancer (HAProxy)", stack.url, description.loadBalancer.pid],
      ...description.instances.map((i) => [`app ${i.id}`, `127.0.0.1:${i.port}`, i.pid]),
      ...(description.redis.master
        ? [
            [
              "Redis master",
              `127.0.0.1:${description.redis.master.port}`,
              description.redis.master.pid,
            ],
          ]
        : []),
      ...(description.redis.shards ?? []).flatMap((shard, i) => [
        [`shard ${i} master (${shard.slots})`, `127.0.0.1:${shard.master.port}`, shard.master.pid],
        ...shard.replicas.map((r) => [`shard ${i} replica`, `127.0.0.1:${r.port}`, r.pid]),
      ]),
      ...(description.redis.shards
        ? []
        : description.redis.replicas.map((r) => ["Redis replica", `127.0.0.1:${r.port}`, r.pid])),
      ...description.redis.sentinels.map((s) => ["Sentinel", `127.0.0.1:${s.port}`, s.pid]),
      ["PostgreSQL (products)", `127.0.0.1:${description.database.port}`, description.database.pid],
    ];
    say("");
    for (const [what, where, pid] of rows)
      say(`  ${String(what).padEnd(26)} ${String(where).padEnd(24)} pid ${String(pid)}`);
    say("");
    say(`  App:           ${stack.url}   (log in as alice / alice-demo-password)`);
    say(`  Products:      ${stack.url}/products/1   (read through the cache)`);
    say(`  Control panel: ${controlUrl}`);
    say("");
    say("  Ctrl-C stops everything.");
  }
} catch (error) {
  say(`! the demo did not start: ${error instanceof Error ? error.message : String(error)}`);
  await shutdown(1);
}
