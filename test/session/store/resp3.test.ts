import { Redis } from "ioredis";
import { afterAll, describe, expect, test } from "vitest";
import { RedisSessionStore } from "../../../src/index.js";
import { call } from "../../support/call.js";
import { contract, sessionData } from "./contract.js";
import { useSingleNodeStores } from "./singleNode.js";

/** The clients passed in, closed after the file's tests. */
const passedIn: Redis[] = [];
const mode = useSingleNodeStores((_url, port) => {
  const passed = new Redis(port, "127.0.0.1", { replyMapping: "resp3" });
  passedIn.push(passed);
  return passed;
});
afterAll(async () => {
  await Promise.all(passedIn.map((passed) => passed.quit()));
});

describe('with a client passed in that maps replies the RESP3 way (`replyMapping: "resp3"`)', () => {
  contract(mode);

  test("the store defines no command on the client it was given", async () => {
    const passed = new Redis(mode.port, "127.0.0.1");
    try {
      await passed.ping();
      const methods = new Set(Object.keys(passed));
      const store = new RedisSessionStore({ redis: passed, prefix: "own:" });
      await call((done) => store.set("own", sessionData({ n: 1 }), done));
      await call((done) => store.get("own", done));
      await call((done) => store.touch("own", sessionData({ n: 1 }), done));
      await call((done) => store.destroy("own", done));
      await store.close();
      expect(passed.scriptsSet).toEqual({});
      expect(Object.keys(passed).filter((name) => !methods.has(name))).toEqual([]);
    } finally {
      await passed.quit();
    }
  });
});
