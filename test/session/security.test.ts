import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import type { RedisOptions } from "ioredis";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Express } from "express";
import { makeCertificates } from "../../harness/certificates.js";
import type { TestCertificates } from "../../harness/certificates.js";
import { useCluster, useSentinel } from "../support/hooks.js";
import { agentOn, useApp } from "../support/agent.js";
import { RedisServer } from "../../harness/RedisServer.js";
import { createTestApp } from "../../harness/app/testApp.js";

async function logsIn(app: Express): Promise<void> {
  const browser = agentOn(app);
  const login = await browser.post("/login").send({ user: "alice" });
  expect(login.status).toBe(200);
  expect((await browser.get("/me")).body).toMatchObject({ user: "alice" });
}

describe("a Sentinel topology with passwords on the nodes and on the Sentinels", () => {
  const password = "node-password";
  const sentinelPassword = "sentinel-password";
  const redis = useSentinel({ replicas: 1, password, sentinelPassword });
  const server = useApp(
    () =>
      createTestApp({
        redis: { ...redis.current.redisOption, password, sentinelPassword },
      }).app,
  );

  test("refuses clients without them", async () => {
    const [sentinel] = redis.current.sentinels;
    const [data] = redis.current.servers;
    expect(await refusal({ port: sentinel?.port })).toMatch(/NOAUTH|Authentication required/);
    expect(await refusal({ port: data?.port })).toMatch(/NOAUTH|Authentication required/);
  });

  test("works with the passwords given", async () => {
    await logsIn(server.app);
  });
});

describe("a Cluster with passwords on the nodes", () => {
  const password = "cluster-password";
  const redis = useCluster({ masters: 3, replicasPerMaster: 1, password });
  const server = useApp(
    () => createTestApp({ redis: { ...redis.current.redisOption, password } }).app,
  );

  test("refuses clients without it", async () => {
    for (const node of redis.current.servers) {
      expect(await refusal({ port: node.port })).toMatch(/NOAUTH|Authentication required/);
    }
  });

  test("works with the password given, helpers included", async () => {
    await logsIn(server.app);
    const browser = agentOn(server.app);
    expect((await browser.post("/auth/login").send({ user: "bob" })).status).toBe(200);
    expect((await browser.get("/auth/sessions/bob")).body).toMatchObject({
      sessions: [{ id: expect.any(String) as unknown }],
    });
    expect((await browser.post("/auth/logout-all")).body).toMatchObject({ ended: 1 });
  });
});

describe("a TLS-only redis-server", () => {
  let dir: string;
  let certificates: TestCertificates;
  let node: RedisServer;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "rhs-tls-"));
    certificates = await makeCertificates(dir);
    node = await RedisServer.tlsServer(dir, "redis-tls", certificates);
    await node.start();
  });
  afterAll(async () => {
    await node.process.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const server = useApp(
    () =>
      createTestApp({
        redis: { url: `rediss://127.0.0.1:${node.port}`, tls: { ca: certificates.caPem } },
      }).app,
  );

  test("is reached with rediss:// and its CA", async () => {
    await logsIn(server.app);
  });

  test("is not reached by a client that does not trust its certificate", async () => {
    expect(await refusal({ port: node.port, tls: {} })).toMatch(/self[- ]signed|certificate/i);
  });
});

/** Why a client with these settings cannot use the server: the errors it saw, joined. */
async function refusal(options: RedisOptions): Promise<string> {
  const client = new Redis({
    host: "127.0.0.1",
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    ...options,
  });
  const errors: string[] = [];
  client.on("error", (error: Error) => errors.push(error.message));
  try {
    await client.connect();
    await client.call("INFO");
    errors.push("(connected)");
  } catch (error) {
    errors.push(error instanceof Error ? error.message : "failed");
  } finally {
    client.disconnect();
  }
  return errors.join("; ");
}
