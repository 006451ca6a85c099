import { execFile } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const source = fileURLToPath(new URL("./volatileaof.c", import.meta.url));
let built: Promise<string> | undefined;

/**
 * The volatile-AOF shim (volatileaof.c), compiled once per process with the system's C compiler
 * into a temp dir: preloaded into a data node, its unsynced AOF writes are lost on SIGKILL as a
 * machine crash would lose them.
 */
export function volatileAof(): Promise<string> {
  built ??= (async () => {
    const library = join(await mkdtemp(join(tmpdir(), "rhs-crash-")), "volatileaof.so");
    await promisify(execFile)("cc", [
      "-shared",
      "-fPIC",
      "-O2",
      "-o",
      library,
      source,
      "-ldl",
      "-lpthread",
    ]);
    return library;
  })();
  return built;
}
