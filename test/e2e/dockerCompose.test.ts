import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, test } from "vitest";
import { parse } from "yaml";
import { writeHaproxyConfig } from "../../harness/HAProxy.js";

// No Docker engine runs here: check the files for what the containers need, and let HAProxy itself
// validate both of its configurations.

const exec = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  deploy?: { replicas?: number };
  depends_on?: Record<string, { condition: string }>;
}

async function compose(): Promise<Record<string, Service>> {
  const text = await readFile(join(root, "docker-compose.yml"), "utf8");
  return (parse(text, { merge: true }) as { services: Record<string, Service> }).services;
}

describe("docker-compose.yml", () => {
  test("has the demo's shape: master, 2 replicas, 3 Sentinels, PostgreSQL, 3 app replicas, HAProxy", async () => {
    const services = await compose();
    expect(Object.keys(services).sort()).toEqual([
      "app",
      "haproxy",
      "postgres",
      "redis-master",
      "redis-replica-1",
      "redis-replica-2",
      "sentinel-1",
      "sentinel-2",
      "sentinel-3",
    ]);
    for (const name of ["redis-master", "redis-replica-1", "redis-replica-2"]) {
      expect(services[name]?.image).toMatch(/^redis:/);
      expect(services[name]?.command).toContain("--appendonly");
    }
    for (const name of ["redis-replica-1", "redis-replica-2"]) {
      expect(services[name]?.command?.join(" ")).toContain("--replicaof redis-master 6379");
    }
    expect(services.haproxy?.image).toMatch(/^haproxy:/);
    expect(services.haproxy?.ports).toEqual(["8080:8080"]);
    expect(services.app?.build).toBe(".");
    expect(services.app?.deploy?.replicas).toBe(3);
  });

  test("every service has a health check, and each waits for what it needs to be healthy", async () => {
    const services = await compose();
    for (const [name, service] of Object.entries(services)) {
      expect(service.healthcheck?.test, name).toBeDefined();
    }
    expect(services.app?.depends_on?.["sentinel-1"]?.condition).toBe("service_healthy");
    expect(services.haproxy?.depends_on?.app?.condition).toBe("service_healthy");
    expect(services.app?.healthcheck?.test.join(" ")).toContain("/healthz");
  });

  test("the app finds Redis through the 3 Sentinels, which announce host names", async () => {
    const services = await compose();
    const redis = JSON.parse(services.app?.environment?.DEMO_REDIS ?? "{}") as {
      sentinels: { host: string; port: number }[];
      name: string;
    };
    expect(redis.name).toBe("mymaster");
    expect(redis.sentinels.map((sentinel) => sentinel.host)).toEqual([
      "sentinel-1",
      "sentinel-2",
      "sentinel-3",
    ]);
    const script = await readFile(join(root, "docker/sentinel.sh"), "utf8");
    expect(script).toContain("sentinel resolve-hostnames yes");
    expect(script).toContain("sentinel announce-hostnames yes");
    expect(script).toContain("sentinel monitor mymaster redis-master 6379 2");
    expect(script).toContain("sentinel down-after-milliseconds mymaster 2000");
  });

  test("the app reads its products from the postgres service, seeded by the launcher's own SQL", async () => {
    const services = await compose();
    expect(services.postgres?.image).toMatch(/^postgres:/);
    expect(services.app?.depends_on?.postgres?.condition).toBe("service_healthy");
    const url = new URL(
      (services.app?.environment?.DEMO_DATABASE_URL ?? "").replace(/\$\{[^}]*\}/, "secret"),
    );
    expect([url.protocol, url.hostname, url.port, url.pathname]).toEqual([
      "postgres:",
      "postgres",
      "5432",
      "/demo",
    ]);
    const volumes = (services.postgres as { volumes?: string[] }).volumes ?? [];
    expect(volumes).toContain("./demo/products.sql:/docker-entrypoint-initdb.d/products.sql:ro");
    // The image is built with every module the app imports.
    const dockerfile = await readFile(join(root, "Dockerfile"), "utf8");
    const app = await readFile(join(root, "demo/app.ts"), "utf8");
    for (const [, module] of app.matchAll(/from "\.\/([a-zA-Z]+)\.js"/g)) {
      expect(dockerfile, `Dockerfile copies demo/${String(module)}.ts`).toContain(
        `demo/${String(module)}.ts`,
      );
    }
  });

  test("HAProxy accepts its configuration, which health-checks /healthz", async () => {
    const config = join(root, "docker/haproxy.cfg");
    await expect(exec("haproxy", ["-c", "-f", config])).resolves.toBeDefined();
    expect(await readFile(config, "utf8")).toContain("option httpchk GET /healthz");
  });
});

test("the local demo's generated HAProxy configuration is valid", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rhs-haproxy-"));
  try {
    const config = await writeHaproxyConfig(dir, {
      port: 8080,
      instances: [
        { id: "app-1", port: 3001 },
        { id: "app-2", port: 3002 },
      ],
    });
    const { stdout, stderr } = await exec("haproxy", ["-c", "-f", config]);
    expect(`${stdout}${stderr}`).toMatch(/Configuration file is valid/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
