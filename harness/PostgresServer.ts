import { execFileSync, spawn } from "node:child_process";
import { chown, mkdtemp, rm } from "node:fs/promises";
import { existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { pollUntil } from "./poll.js";
import { freePort } from "./ports.js";
import { ServerProcess } from "./ServerProcess.js";

/** Debian's postgresql package keeps its programs out of PATH, by major version. */
const DEBIAN_BINARIES = "/usr/lib/postgresql";

/** Where `initdb` and `postgres` are: PATH first, then the newest Debian version. */
export function postgresBinaries(): string | undefined {
  const onPath = spawnable("initdb");
  if (onPath !== undefined) return onPath;
  if (!existsSync(DEBIAN_BINARIES)) return undefined;
  const versions = readdirSync(DEBIAN_BINARIES)
    .filter((name) => existsSync(join(DEBIAN_BINARIES, name, "bin", "postgres")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(DEBIAN_BINARIES, versions[0], "bin");
}

function spawnable(program: string): string | undefined {
  try {
    const path = execFileSync("sh", ["-c", `command -v ${program}`], { encoding: "utf8" }).trim();
    return path === "" ? undefined : join(path, "..");
  } catch {
    return undefined;
  }
}

/** PostgreSQL refuses to run as root: as root, its files and processes belong to this user. */
function unprivilegedUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ["postgres", "nobody"]) {
    try {
      const id = (flag: string) =>
        Number(execFileSync("id", [flag, name], { encoding: "utf8" }).trim());
      return { uid: id("-u"), gid: id("-g") };
    } catch {
      // no such user: try the next
    }
  }
  throw new Error("running as root, and neither a postgres nor a nobody user exists");
}

/**
 * A PostgreSQL server on 127.0.0.1: `initdb` in a temp dir of its own (owned by an unprivileged
 * user when we run as root), `trust` authentication on loopback, a database `demo` owned by user
 * `demo`. Stopped (fast shutdown) and removed by stop().
 */
export class PostgresServer {
  private constructor(
    readonly process: ServerProcess,
    readonly port: number,
    private readonly dir: string,
  ) {}

  /** Its connection string, for `pg` or `psql`. */
  get url(): string {
    return `postgres://demo@127.0.0.1:${this.port}/demo`;
  }

  /** Starts a server and runs `setupSql` (a script of statements) in its `demo` database. */
  static async start(setupSql = ""): Promise<PostgresServer> {
    const bin = postgresBinaries();
    if (bin === undefined) {
      throw new Error(
        "PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql). On Debian or " +
          "Ubuntu: sudo apt-get install -y postgresql",
      );
    }
    const user = unprivilegedUser();
    const dir = await mkdtemp(join(tmpdir(), "rhs-postgres-"));
    if (user) await chown(dir, user.uid, user.gid);
    const data = join(dir, "data");
    const spawner: typeof spawn = ((command: string, args: string[], options: object) =>
      spawn(command, args, { ...options, ...user })) as typeof spawn;
    try {
      execFileSync(
        join(bin, "initdb"),
        ["-D", data, "-U", "demo", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"],
        { stdio: ["ignore", "ignore", "pipe"], ...user },
      );
      const port = await freePort();
      const server = new PostgresServer(
        new ServerProcess(
          "postgres",
          join(bin, "postgres"),
          [
            ...["-D", data, "-p", String(port), "-k", dir],
            ...["-c", "listen_addresses=127.0.0.1"],
            ...["-c", "shared_preload_libraries=pg_stat_statements"],
            // A demo's throwaway data in a temp dir: no need to wait for the disk.
            ...["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
          ],
          { spawner, stopSignal: "SIGINT" },
        ),
        port,
        dir,
      );
      server.process.start();
      await pollUntil(
        "PostgreSQL to accept connections",
        async () => {
          if (!server.process.running) {
            throw new Error(`postgres exited: ${server.process.stderr}`);
          }
          await server.query("postgres", "SELECT 1");
          return true;
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      await server.query("postgres", "CREATE DATABASE demo");
      if (setupSql !== "") await server.query("demo", setupSql);
      return server;
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Runs `sql` (no parameters: it may hold several statements) on a connection of its own. */
  async query(database: string, sql: string): Promise<pg.QueryResult[]> {
    const client = new pg.Client({
      host: "127.0.0.1",
      port: this.port,
      user: "demo",
      database,
      connectionTimeoutMillis: 2_000,
    });
    await client.connect();
    try {
      const result = (await client.query(sql)) as pg.QueryResult | pg.QueryResult[];
      return Array.isArray(result) ? result : [result];
    } finally {
      await client.end();
    }
  }

  /** Fast shutdown (SIGINT: clients are disconnected), then the files go. */
  async stop(): Promise<void> {
    await this.process.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}
