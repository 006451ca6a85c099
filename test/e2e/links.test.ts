import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
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
