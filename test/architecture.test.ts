import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { expect, test } from "vitest";

// The shape issue 29 set for the code, kept: session/ and cache/ side by side on the Redis layer,
// which they reach through a few modules; its root small; no file too long to read at once.

const SRC = resolve(import.meta.dirname, "../src");

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** The src/ modules a file imports, as paths relative to src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/from "(\.{1,2}\/[^"]+)\.js"/g)].map((match) =>
    relative(SRC, resolve(file, "..", match[1] ?? "")),
  );
}

test("session/ and cache/ do not import each other and reach src/redis/ through at most 12 modules", () => {
  const users = [...filesUnder(join(SRC, "session")), ...filesUnder(join(SRC, "cache"))];
  const reached = new Set<string>();
  for (const file of users) {
    const from = relative(SRC, file).split("/")[0];
    for (const target of importsOf(file)) {
      const to = target.split("/")[0];
      if (to === "redis") reached.add(target);
      expect(
        [from, to].sort().join(" ") === "cache session",
        `${relative(SRC, file)} imports ${target}`,
      ).toBe(false);
    }
  }
  console.log(`session/ and cache/ reach src/redis/ through: ${[...reached].sort().join(", ")}`);
  expect(reached.size).toBeLessThanOrEqual(12);
});

test("at most 12 files directly in src/redis/, and no src/ file over 300 lines", () => {
  const root = readdirSync(join(SRC, "redis")).filter((name) => name.endsWith(".ts"));
  expect(root.length).toBeLessThanOrEqual(12);
  const long = filesUnder(SRC)
    .map((file) => ({
      file: relative(SRC, file),
      lines: readFileSync(file, "utf8").split("\n").length - 1,
    }))
    .filter(({ lines }) => lines > 300);
  expect(long).toEqual([]);
});
