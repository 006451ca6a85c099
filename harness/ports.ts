import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/** The lowest port of the range listeners are picked from. */
const LOWEST = 10_000;

/**
 * Where the OS takes the source ports of outgoing connections from (and listen(0)'s ports). A port
 * picked there and closed again can be taken by any connection before the server we pick it for
 * binds it — a Cluster node then failed to start with "Address already in use" on its bus port
 * (seen once in a `npm run chaos -- --cluster` series) — so ports are picked below it.
 */
function ephemeralStart(): number {
  try {
    const [low] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
      .trim()
      .split(/\s+/);
    return Number(low);
  } catch {
    return 32_768;
  }
}

const below = ephemeralStart();
/**
 * Test files that run side by side (two Vitest workers) pick from disjoint ports: those equal to
 * the worker's number modulo STRIDE. Each worker's `handedOut` cannot see the other's picks.
 */
const STRIDE = 4;
const lane = Number(process.env.VITEST_POOL_ID ?? 0) % STRIDE;
/** Ports handed out by this process: never handed out twice. */
const handedOut = new Set<number>();

/**
 * A TCP port on 127.0.0.1 that is free now, below the OS's ephemeral range (so no outgoing
 * connection takes it meanwhile) and not handed out before by this process.
 */
export async function freePort(): Promise<number> {
  if (below - LOWEST < 1_000) return osPickedPort();
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = LOWEST + STRIDE * Math.floor((Math.random() * (below - LOWEST)) / STRIDE) + lane;
    if (handedOut.has(port)) continue;
    if (await bindable(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port found between ${LOWEST} and ${below}`);
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.on("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A port the OS picks (listen(0)), where the range below its ephemeral ports is too small. */
function osPickedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (typeof address === "object" && address !== null) resolve(address.port);
        else reject(new Error("no port assigned"));
      });
    });
  });
}
