import { Redis } from "ioredis";
import { beforeAll, describe, expect, test } from "vitest";
import { redisAclRules } from "../../../src/index.js";
import { contract } from "./contract.js";
import { useSingleNodeStores } from "./singleNode.js";

const ACL_USER = "sessions";
const ACL_PASSWORD = "acl-user-password";
const ACL_PREFIX = "acl:";

const mode = useSingleNodeStores(
  (url) => ({ url, username: ACL_USER, password: ACL_PASSWORD }),
  ACL_PREFIX,
);

describe("with an ACL user allowed only redisAclRules() on its prefix", () => {
  beforeAll(async () => {
    const rules = redisAclRules(ACL_PREFIX).split(" ");
    await mode.single.acl("SETUSER", ACL_USER, "reset", "on", `>${ACL_PASSWORD}`, ...rules);
  });

  test("the user is really limited: other keys and commands are refused", async () => {
    const limited = new Redis({
      port: mode.port,
      host: "127.0.0.1",
      username: ACL_USER,
      password: ACL_PASSWORD,
    });
    await expect(limited.get("elsewhere")).rejects.toThrow(/NOPERM/);
    await expect(limited.set(`${ACL_PREFIX}x`, "1")).rejects.toThrow(/NOPERM/);
    await expect(limited.flushall()).rejects.toThrow(/NOPERM/);
    await limited.quit();
  });

  contract(mode);
});
