import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, test } from "vitest";
import { useSingleNode } from "../support/hooks.js";

const exec = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const redis = useSingleNode();

// What a user writes after `npm install redis-ha-session`, in an ESM TypeScript project.
const main = `
import express from "express";
import { Redis } from "ioredis";
import { createCache, createRedisClient, NotReadyError, redisSession, RedisSessionStore, SessionTooLargeError } from "redis-ha-session";
import type { Logger, RedisSessionOptions, SessionTtl } from "redis-ha-session";

declare module "express-session" {
  interface SessionData {
    user: string;
  }
}

const redis = createRedisClient(process.env.REDIS_URL ?? "");
// Where the one line per problem goes: here a logger that collects them.
const said: string[] = [];
const logger: Logger = { warn: (message) => said.push(message) };
// A TTL from the session, as connect-redis takes it: guests an hour, users a month.
const ttl: SessionTtl = (session) => (session.user === undefined ? 3_600 : 2_592_000);
const options: RedisSessionOptions = { secret: "s".repeat(32), redis, logger, ttl };
const sessions = redisSession(options);
const store: RedisSessionStore = sessions.store;
// The store's events are typed by name; a listener of the wrong shape does not compile.
store.on("degraded", (change) => {
  const master: string = change.master;
  console.error(\`degraded \${master} \${change.replicas}\`);
});
store.once("failover", (event) => console.error(event.at.toISOString()));
// @ts-expect-error a failover listener is given a FailoverEvent, not a number
store.on("failover", (event: number) => event);
const app = express();
app.use(sessions);
app.post("/login", (req, res) => {
  req.session.user = "alice";
  res.json({ ok: true });
});
app.get("/me", (req, res) => {
  res.json({ user: req.session.user ?? null, tooLarge: SessionTooLargeError.name });
});
// Before listening: Redis answers as the options ask, or the cause is named.
await store.ready();
const server = app.listen(0, "127.0.0.1", async () => {
  const address = server.address();
  const base = typeof address === "object" && address ? \`http://127.0.0.1:\${address.port}\` : "";
  const login = await fetch(\`\${base}/login\`, { method: "POST" });
  const cookie = login.headers.getSetCookie()[0]?.split(";")[0] ?? "";
  const me = await fetch(\`\${base}/me\`, { headers: { cookie } });
  // The store's methods as promises (no callback), typed as such.
  const length: number = await store.length();
  const all: Record<string, unknown> = await store.all();
  // Each connect-redis option gets a pointer to what to use instead and to the migration guide.
  const pointers: Record<string, string> = {};
  for (const option of ["client", "disableTouch", "disableTTL", "serializer", "scanCount"]) {
    try {
      new RedisSessionStore({ redis, [option]: true } as never);
      pointers[option] = "accepted";
    } catch (error) {
      const message = String(error);
      const named = message.includes(\`\\\`\${option}\\\` is connect-redis' option; here\`);
      pointers[option] =
        named && message.includes("migrating-from-connect-redis.md") ? "pointer" : message;
    }
  }
  // A node that refuses: ready() rejects with NotReadyError, and the logger hears of it.
  const refused = new RedisSessionStore({ redis: "redis://127.0.0.1:1", logger });
  const notReady = await refused.ready().then(
    () => "ready",
    (error: unknown) => (error instanceof NotReadyError ? error.reason : String(error)),
  );
  await refused.close();
  // The cache's events, typed by name.
  const cache = createCache({ redis: process.env.REDIS_URL ?? "", prefix: "pkg:" });
  const cacheEvents: string[] = [];
  cache.on("miss", ({ key }) => cacheEvents.push(\`miss \${key}\`));
  cache.on("load", ({ key, failed }) => cacheEvents.push(\`load \${key} \${failed}\`));
  cache.on("hit", ({ key, tier }) => cacheEvents.push(\`hit \${key} \${tier}\`));
  // @ts-expect-error a hit listener is given { key, tier }, not a string
  cache.on("hit", (event: string) => event);
  await cache.getOrLoad("p1", () => ({ id: 1 }));
  await cache.getOrLoad("p1", () => ({ id: 1 }));
  await cache.close();
  // The app's own ioredis client (of whichever version the app installed) given as \`redis\`.
  const own = new Redis(process.env.REDIS_URL ?? "");
  const ownStore = new RedisSessionStore({ redis: own, prefix: "own:" });
  await ownStore.ready();
  await ownStore.set("own", { cookie: { originalMaxAge: null }, user: "bob" });
  const ownClient = await ownStore.length();
  await ownStore.close();
  await own.quit();
  console.log(
    JSON.stringify({
      ...(await me.json()),
      sessions: (await store.ids()).length,
      length,
      all: Object.keys(all).length,
      pointers,
      notReady,
      ownClient,
      cacheEvents,
      heard: said.some((line) => line.includes("ECONNREFUSED")),
    }),
  );
  server.close();
  await redis.quit();
});
`;

/** The version package-lock.json resolves `name` to. */
function lockedVersion(name: string): string {
  const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as {
    packages: Record<string, { version?: string }>;
  };
  const version = lock.packages[`node_modules/${name}`]?.version;
  if (version === undefined) throw new Error(`${name} is not in package-lock.json`);
  return version;
}

/**
 * The ioredis versions a consumer app is built with: the lockfile's (6) and the oldest 5.x the
 * peer range allows. ioredis is a peer dependency: the app's own copy is the one the library uses.
 */
const IOREDIS = ["locked", "5.11.1"] as const;
type IoredisVersion = (typeof IOREDIS)[number];
const projects = new Map<IoredisVersion, string>();
let workspace: string;

/** A consumer project in `dir` with the tarball, ioredis `version`, express and TypeScript. */
async function consumer(dir: string, tarball: string, version: IoredisVersion): Promise<void> {
  const devDeps = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as {
    devDependencies: Record<string, string>;
  };
  const pin = (name: string): string => `${name}@${devDeps.devDependencies[name] ?? "latest"}`;
  await mkdir(dir);
  await writeFile(
    join(dir, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: "module" }),
  );
  await writeFile(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        outDir: "out",
        types: ["node"],
      },
      include: ["main.ts"],
    }),
  );
  await writeFile(join(dir, "main.ts"), main);
  await exec(
    "npm",
    [
      "install",
      "--no-audit",
      "--no-fund",
      "--prefer-offline",
      tarball,
      // The ioredis the lockfile has, not the newest the range allows: the test checks this
      // package's types, and ioredis 6.1.0's own declarations fail a strict check without
      // @types/redis-errors (docs/configuration.md, "Install and use").
      `ioredis@${version === "locked" ? lockedVersion("ioredis") : version}`,
      pin("express"),
      pin("typescript"),
      pin("@types/express"),
      pin("@types/node"),
    ],
    { cwd: dir },
  );
}

beforeAll(async () => {
  workspace = await mkdtemp(join(tmpdir(), "rhs-consumer-"));
  const { stdout } = await exec("npm", ["pack", "--silent", "--pack-destination", workspace], {
    cwd: root,
  });
  const tarball = join(workspace, stdout.trim().split("\n").pop() ?? "");
  for (const version of IOREDIS) {
    const dir = join(workspace, `ioredis-${version}`);
    await consumer(dir, tarball, version);
    projects.set(version, dir);
  }
}, 360_000);

afterAll(async () => {
  await rm(workspace, { recursive: true, force: true });
});

/** Empties the test's Redis node. */
async function flushAll(): Promise<void> {
  const admin = new Redis(redis.current.url);
  try {
    await admin.flushall();
  } finally {
    await admin.quit();
  }
}

/** The consumer project built with ioredis `version`. */
function projectOf(version: IoredisVersion): string {
  const dir = projects.get(version);
  if (dir === undefined) throw new Error(`no consumer project for ioredis ${version}`);
  return dir;
}

test.each(IOREDIS)(
  "the packed tarball type-checks and runs in an ESM TypeScript project with ioredis %s (one copy, the app's)",
  async (version) => {
    const project = projectOf(version);
    // ioredis is a peer: the app's copy is the only one, whichever major it is.
    const { stdout: copies } = await exec("npm", ["ls", "ioredis", "--all", "--parseable"], {
      cwd: project,
    });
    expect(copies.trim().split("\n")).toEqual([join(project, "node_modules/ioredis")]);
    const installed = JSON.parse(
      await readFile(join(project, "node_modules/ioredis/package.json"), "utf8"),
    ) as { version: string };
    expect(installed.version).toBe(version === "locked" ? lockedVersion("ioredis") : version);
    // tsc reports type errors on stdout: make them part of the failure.
    await exec(join(project, "node_modules/.bin/tsc"), ["-p", "."], { cwd: project }).catch(
      (error: unknown) => {
        const { stdout } = error as { stdout?: string };
        throw new Error(`tsc -p . in the consumer project failed:\n${stdout ?? ""}`, {
          cause: error,
        });
      },
    );
    // Each run counts the sessions it made.
    await flushAll();
    const { stdout } = await exec(process.execPath, ["out/main.js"], {
      cwd: project,
      env: { ...process.env, REDIS_URL: redis.current.url },
    });
    expect(JSON.parse(stdout)).toEqual({
      user: "alice",
      tooLarge: "SessionTooLargeError",
      sessions: 1,
      length: 1,
      all: 1,
      pointers: {
        client: "pointer",
        disableTouch: "pointer",
        disableTTL: "pointer",
        serializer: "pointer",
        scanCount: "pointer",
      },
      notReady: "unreachable",
      ownClient: 1,
      cacheEvents: ["miss p1", "load p1 false", "hit p1 redis"],
      heard: true,
    });
  },
);

test("CommonJS code on Node >= 20.19 can require it and gets the same exports", async () => {
  const list = (loader: string) =>
    exec(process.execPath, ["--input-type=module", "-e", loader], {
      cwd: projectOf("locked"),
    }).then(({ stdout }) => stdout.trim().split(","));
  const required = await list(
    "import { createRequire } from 'node:module'; const m = createRequire(process.cwd() + '/x.js')('redis-ha-session'); console.log(Object.keys(m).sort().join(','))",
  );
  const imported = await list(
    "const m = await import('redis-ha-session'); console.log(Object.keys(m).sort().join(','))",
  );
  expect(required).toEqual(imported);
  expect(imported).toEqual(
    expect.arrayContaining([
      "RedisSessionStore",
      "createRedisClient",
      "redisSession",
      "login",
      "logoutEverywhere",
      "healthHandler",
    ]),
  );
});

// The same package from CommonJS TypeScript: compiled to require() (Node >= 20.19's require(esm)).
const commonJsMain = `
import { createCache, RedisSessionStore } from "redis-ha-session";

declare module "express-session" {
  interface SessionData {
    user: string;
  }
}

async function main(): Promise<void> {
  const store = new RedisSessionStore({ redis: process.env.REDIS_URL ?? "", prefix: "cjs:" });
  await store.ready();
  await store.set("cjs", { cookie: { originalMaxAge: null }, user: "carol" });
  const back = await store.get("cjs");
  await store.close();
  const cache = createCache({ redis: process.env.REDIS_URL ?? "", prefix: "cjs-cache:" });
  const loaded = await cache.getOrLoad("k", () => ({ n: 1 }));
  await cache.close();
  console.log(JSON.stringify({ user: back?.user, loaded, commonJs: typeof require === "function" }));
}
void main();
`;

test.each(["commonjs", "nodenext"])(
  "a CommonJS TypeScript project (module: %s) compiles against it and runs it through require()",
  async (module) => {
    const dir = join(projectOf("locked"), `cjs-${module}`);
    await mkdir(dir);
    await writeFile(join(dir, "package.json"), JSON.stringify({ type: "commonjs" }));
    await writeFile(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { target: "ES2022", module, strict: true, outDir: "out", types: ["node"] },
        include: ["main.ts"],
      }),
    );
    await writeFile(join(dir, "main.ts"), commonJsMain);
    await exec(join(projectOf("locked"), "node_modules/.bin/tsc"), ["-p", "."], { cwd: dir }).catch(
      (error: unknown) => {
        const { stdout } = error as { stdout?: string };
        throw new Error(`tsc (module ${module}) failed:\n${stdout ?? ""}`, { cause: error });
      },
    );
    expect(await readFile(join(dir, "out/main.js"), "utf8")).toMatch(
      /require\("redis-ha-session"\)/,
    );
    const { stdout } = await exec(process.execPath, ["out/main.js"], {
      cwd: dir,
      env: { ...process.env, REDIS_URL: redis.current.url },
    });
    expect(JSON.parse(stdout)).toEqual({ user: "carol", loaded: { n: 1 }, commonJs: true });
  },
);

test("the tarball holds the build, types, README, CHANGELOG and LICENSE, and no sources, tests or source maps", async () => {
  const { stdout: listing } = await exec(
    "npm",
    ["pack", "--dry-run", "--json", "--ignore-scripts"],
    {
      cwd: root,
    },
  );
  const [{ files }] = JSON.parse(listing) as [{ files: { path: string }[] }];
  const paths = files.map((file) => file.path);
  expect(paths).toEqual(
    expect.arrayContaining([
      "dist/index.js",
      "dist/index.d.ts",
      "README.md",
      "CHANGELOG.md",
      "LICENSE",
      "package.json",
    ]),
  );
  expect(paths.filter((path) => /^(src|test)\//.test(path))).toEqual([]);
  // No source map: they would point at src/, which is not shipped.
  expect(paths.filter((path) => path.endsWith(".map"))).toEqual([]);
});
