import { readdir, readFile } from "node:fs/promises";
import { expect, test } from "vitest";
import { redisAclRules } from "../../src/index.js";

// The README is what users copy: keep its claims tied to the code.

test("the docs' ACL SETUSER lists exactly the rules redisAclRules() gives", async () => {
  const readme = await readFile(new URL("../../docs/operations.md", import.meta.url), "utf8");
  const block = /redis-cli ACL SETUSER sessions on '>[^']*' \\\n([\s\S]*?)\n {2}```/.exec(
    readme,
  )?.[1];
  expect(block).toBeDefined();
  const tokens = (block ?? "").replace(/\\\n/g, " ").replace(/'/g, "").split(/\s+/).filter(Boolean);
  expect(tokens.sort()).toEqual(redisAclRules("sess:").split(" ").sort());
});

test("the README starts with the set-up and test commands", async () => {
  const readme = await readFile(new URL("../../README.md", import.meta.url), "utf8");
  const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1]?.trim().split("\n");
  expect(firstBlock).toHaveLength(2);
  expect(firstBlock?.[1]).toBe("npm test");
});

// Figures: each one the README or a guide in docs/ quotes from a result file must be what that
// file holds, and every result file they cite must be committed.

const root = new URL("../../", import.meta.url);

async function text(path: string): Promise<string> {
  return readFile(new URL(path, root), "utf8");
}

/** A guide as one line of prose (its paragraphs are wrapped at 100 columns). */
async function flat(path: string): Promise<string> {
  return (await text(path)).replace(/\s+/g, " ");
}

test("every result file README.md and docs/ cite is committed", async () => {
  const cited = new Set<string>();
  const docs = (await readdir(new URL("docs/", root))).filter((name) => name.endsWith(".md"));
  for (const file of ["README.md", ...docs.map((name) => `docs/${name}`)]) {
    for (const match of (await text(file)).matchAll(/bench\/results\/[\w.-]+\.(?:json|txt)/g)) {
      cited.add(match[0]);
    }
  }
  expect(cited.size).toBeGreaterThan(5);
  for (const path of cited) {
    await expect(text(path).then(() => path)).resolves.toBe(path);
  }
});

test("bytes per session are the cited run's", async () => {
  const readme = await flat("docs/storage-format.md");
  const run = JSON.parse(await text("bench/results/2026-12-04.json")) as {
    memory: Record<string, { typical: number; "2 KB": number }>;
  };
  const bytes = (store: string, shape: "typical" | "2 KB") =>
    Math.round(run.memory[store]?.[shape] ?? Number.NaN);
  expect(readme).toContain(
    `bench/results/2026-12-04.json): ${bytes("redis-ha-session", "typical")} bytes per session`,
  );
  expect(readme).toContain(
    `against ${bytes("connect-redis", "typical")} with connect-redis and ` +
      `${bytes("connect-redis-7", "typical")} with connect-redis 7`,
  );
});

test("the peers' stale keys are those of every committed fleet run, in order", async () => {
  const readme = await flat("docs/db-cache.md");
  const runs = [
    "bench/results/2026-12-04-cache-05h19.json",
    "bench/results/2026-12-04-cache-05h22.json",
    "bench/results/2026-12-04-cache-05h50.json",
    "bench/results/2026-12-04-cache.json",
  ];
  const fleets = await Promise.all(
    runs.map(
      async (path) =>
        (JSON.parse(await text(path)) as { fleet: { library: string; staleKeys: number }[] }).fleet,
    ),
  );
  const stale = (library: string) =>
    fleets.map((fleet) => fleet.find((row) => row.library === library)?.staleKeys).join(", ");
  expect(stale("redis-ha-session")).toBe("0, 0, 0, 0");
  expect(stale("redis-ha-session-local")).toBe("0, 0, 0, 0");
  expect(readme).toContain(
    `Bentocache ${stale("bentocache")}; Bentocache two-tier ${stale("bentocache-two-tier")}; ` +
      `cache-manager ${stale("cache-manager")} of`,
  );
});

test("the demo's stop bound the docs promise is the one its test asserts", async () => {
  const readme = await flat("docs/demo.md");
  const launcher = await text("test/e2e/launcher.test.ts");
  const bound = Number(/const STOP_BOUND_MS = ([\d_]+);/.exec(launcher)?.[1]?.replace("_", ""));
  expect(bound).toBeGreaterThan(0);
  expect(readme).toContain(`(tested: all gone within ${bound / 1000} s;`);
});
