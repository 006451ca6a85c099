import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, test } from "vitest";
import { useSingleNode } from "../support/hooks.js";

const exec = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const redis = useSingleNode();
let project: string;

// What a user writes after `npm install redis-ha-session`, in an ESM TypeScript project.
const main = `
import express from "express";
import { createRedisClient, NotReadyError, redisSession, RedisSessionStore, SessionTooLargeError } from "redis-ha-session";
import type { Logger, RedisSessionOptions } from "redis-ha-session";

declare module "express-session" {
  interface SessionData {
    user: string;
  }
}

const redis = createRedisClient(process.env.REDIS_URL ?? "");
// Where the one line per problem goes: here a logger that collects them.
const said: string[] = [];
const logger: Logger = { warn: (message) => said.push(message) };
const options: RedisSessionOptions = { secret: "s".repeat(32), redis, logger };
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
  // A connect-redis option gets a pointer to what to use instead.
  let pointer = "";
  try {
    new RedisSessionStore({ redis, client: redis } as never);
  } catch (error) {
    pointer = String(error).includes("here it is \`redis\`") ? "redis" : String(error);
  }
  // A node that refuses: ready() rejects with NotReadyError, and the logger hears of it.
  const refused = new RedisSessionStore({ redis: "redis://127.0.0.1:1", logger });
  const notReady = await refused.ready().then(
    () => "ready",
    (error: unknown) => (error instanceof NotReadyError ? error.reason : String(error)),
  );
  await refused.close();
  console.log(
    JSON.stringify({
      ...(await me.json()),
      sessions: (await store.ids()).length,
      length,
      all: Object.keys(all).length,
      pointer,
      notReady,
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

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), "rhs-consumer-"));
  const { stdout } = await exec("npm", ["pack", "--silent", "--pack-destination", project], {
    cwd: root,
  });
  const tarball = join(project, stdout.trim().split("\n").pop() ?? "");
  const devDeps = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as {
    devDependencies: Record<string, string>;
  };
  const pin = (name: string): string => `${name}@${devDeps.devDependencies[name] ?? "latest"}`;
  await writeFile(
    join(project, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: "module" }),
  );
  await writeFile(
    join(project, "tsconfig.json"),
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
  await writeFile(join(project, "main.ts"), main);
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
      `ioredis@${lockedVersion("ioredis")}`,
      pin("express"),
      pin("typescript"),
      pin("@types/express"),
      pin("@types/node"),
    ],
    { cwd: project },
  );
}, 240_000);

afterAll(async () => {
  await rm(project, { recursive: true, force: true });
});

test("the packed tarball type-checks and runs in an ESM TypeScript project", async () => {
  // tsc reports type errors on stdout: make them part of the failure.
  await exec(join(project, "node_modules/.bin/tsc"), ["-p", "."], { cwd: project }).catch(
    (error: unknown) => {
      const { stdout } = error as { stdout?: string };
      throw new Error(`tsc -p . in the consumer project failed:\n${stdout ?? ""}`, {
        cause: error,
      });
    },
  );
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
    pointer: "redis",
    notReady: "unreachable",
    heard: true,
  });
});

test("CommonJS code on Node >= 20.19 can require it and gets the same exports", async () => {
  const list = (loader: string) =>
    exec(process.execPath, ["--input-type=module", "-e", loader], { cwd: project }).then(
      ({ stdout }) => stdout.trim().split(","),
    );
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
