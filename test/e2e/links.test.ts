import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import GithubSlugger from "github-slugger";
import { expect, test } from "vitest";

// Every relative link in README.md, CHANGELOG.md and docs/*.md leads somewhere: the file exists
// and, with a `#anchor`, the target has a heading of that anchor (as GitHub makes them).

const root = fileURLToPath(new URL("../../", import.meta.url));

/** A Markdown file's prose: fenced code blocks and inline code left out. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, "").replace(/`[^`\n]*`/g, "");
}

/** The anchors GitHub gives a Markdown file's headings. */
function anchorsOf(markdown: string): Set<string> {
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  for (const [, heading] of prose(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    anchors.add(slugger.slug(heading ?? ""));
  }
  return anchors;
}

async function markdownFiles(): Promise<string[]> {
  const docs = (await readdir(join(root, "docs")))
    .filter((name) => name.endsWith(".md"))
    .map((name) => join(root, "docs", name));
  return [join(root, "README.md"), join(root, "CHANGELOG.md"), ...docs];
}

test("every relative link in README.md, CHANGELOG.md and docs/ resolves, anchors included", async () => {
  const broken: string[] = [];
  let checked = 0;
  for (const file of await markdownFiles()) {
    const text = await readFile(file, "utf8");
    for (const [, target] of prose(text).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      if (target === undefined || /^[a-z]+:/i.test(target)) continue;
      checked++;
      const [path = "", anchor] = target.split("#");
      const resolved = path === "" ? file : join(dirname(file), decodeURIComponent(path));
      const where = `${relative(root, file)}: (${target})`;
      if (!existsSync(resolved)) {
        broken.push(`${where} — no file ${relative(root, resolved)}`);
      } else if (anchor !== undefined && resolved.endsWith(".md")) {
        const anchors = anchorsOf(await readFile(resolved, "utf8"));
        if (!anchors.has(anchor)) broken.push(`${where} — no heading #${anchor}`);
      }
    }
  }
  expect(checked).toBeGreaterThan(50);
  expect(broken).toEqual([]);
});

test("publishing is refused while the registry page could not resolve those links", async () => {
  // The registry page resolves the README's relative links against package.json's `repository`.
  const dir = await mkdtemp(join(tmpdir(), "rhs-publishable-"));
  const manifest = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as object;
  const check = async (fields: object) => {
    const path = join(dir, "package.json");
    await writeFile(path, JSON.stringify({ ...manifest, ...fields }));
    return spawnSync(process.execPath, [join(root, "scripts/publishable.js"), path], {
      encoding: "utf8",
    });
  };
  try {
    const without = await check({ repository: "", homepage: undefined, bugs: undefined });
    expect(without.status).toBe(1);
    expect(without.stderr).toMatch(/not publishable: .* "repository", "homepage", "bugs"/);
    const url = "https://example.invalid/redis-ha-session";
    const withFields = await check({ repository: `git+${url}.git`, homepage: url, bugs: url });
    expect(withFields.status).toBe(0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // And `npm publish` runs it.
  const scripts = (
    JSON.parse(await readFile(join(root, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    }
  ).scripts;
  expect(scripts.prepublishOnly).toBe("node scripts/publishable.js");
});
