// Run by `npm publish` (prepublishOnly): refuses while package.json lacks what the registry page
// needs. The README's relative links (docs/, tests, results) resolve there against `repository`;
// without it every one of them breaks. `node scripts/publishable.js [path/to/package.json]`.
import console from "node:console";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const path = resolve(process.argv[2] ?? fileURLToPath(import.meta.resolve("../package.json")));
const manifest = JSON.parse(readFileSync(path, "utf8"));
const missing = ["repository", "homepage", "bugs"].filter((field) => !manifest[field]);
if (missing.length > 0) {
  console.error(
    `redis-ha-session: not publishable: ${path} has no ${missing.map((f) => `"${f}"`).join(", ")}` +
      " (the registry page resolves the README's relative links against `repository`)",
  );
  process.exit(1);
}
