import { readFile } from "node:fs/promises";
import { expect, test } from "vitest";
import { redisAclRules } from "../../src/index.js";

// The README is what users copy: keep its claims tied to the code.

test("the README's ACL SETUSER lists exactly the rules redisAclRules() gives", async () => {
  const readme = await readFile(new URL("../../README.md", import.meta.url), "utf8");
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
