import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { fc, test } from "@fast-check/vitest";
import { Redis } from "ioredis";
import type { SessionData } from "express-session";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { RedisSessionStore, SessionTooLargeError } from "../../../src/index.js";
import { useSingleNode } from "../../support/hooks.js";
import { PROPERTY_RUNS } from "./settings.js";

// The store on a real Redis, driven the way express-session drives it: get, createSession on a
// request, save.

const redis = useSingleNode();
const MAX_BYTES = 2_048;
let store: RedisSessionStore;
let admin: Redis;

beforeAll(() => {
  store = new RedisSessionStore({ redis: redis.current.url, maxBytes: MAX_BYTES });
  admin = new Redis(redis.current.url);
});
afterAll(async () => {
  await store.close();
  await admin.quit();
});

type Session = SessionData &
  Record<string, unknown> & { save(callback: (error?: unknown) => void): void };

const cookie = () => ({ originalMaxAge: 60_000, httpOnly: true, path: "/", secure: false });

function newSid(): string {
  return randomBytes(12).toString("base64url");
}

async function create(sid: string, data: Record<string, unknown>): Promise<void> {
  // A session as JSON, the way a store receives one from another process.
  const session = JSON.parse(JSON.stringify({ cookie: cookie(), ...data })) as SessionData;
  await store.set(sid, session);
}

/** One request's view of the session, as express-session builds it. */
async function load(sid: string): Promise<Session> {
  const data = await store.get(sid);
  if (data === null) throw new Error(`session ${sid} not found`);
  const req = { sessionID: sid, sessionStore: store };
  return store.createSession(req as never, data);
}

function save(session: Session): Promise<void> {
  return promisify(session.save.bind(session))();
}

async function stored(sid: string): Promise<Record<string, unknown> | null> {
  return store.get(sid);
}

const field = fc.constantFrom("a", "b", "c", "d");

describe("store properties on a real Redis", () => {
  test.prop(
    [
      fc.scheduler(),
      fc.uniqueArray(field, { minLength: 2, maxLength: 2 }),
      fc.integer(),
      fc.integer(),
    ],
    PROPERTY_RUNS,
  )(
    "two requests changing different keys of one session keep both changes, in any interleaving",
    async (s, [first = "a", second = "b"], one, two) => {
      const sid = newSid();
      await create(sid, { user: "u" });
      const request = async (key: string, value: number) => {
        const session = await s.schedule(load(sid), `read for ${key}`);
        session[key] = value;
        await s.schedule(save(session), `write of ${key}`);
      };
      const both = Promise.all([request(first, one), request(second, two)]);
      await s.waitFor(both);
      const result = await stored(sid);
      expect(result).toMatchObject({ user: "u", [first]: one, [second]: two });
    },
  );

  test.prop([fc.scheduler(), field, fc.integer(), fc.integer()], PROPERTY_RUNS)(
    "two requests changing the same key leave one of their two values",
    async (s, key, one, two) => {
      const sid = newSid();
      await create(sid, { user: "u" });
      const request = async (value: number) => {
        const session = await s.schedule(load(sid));
        session[key] = value;
        await s.schedule(save(session));
      };
      await s.waitFor(Promise.all([request(one), request(two)]));
      expect([one, two]).toContain((await stored(sid))?.[key]);
    },
  );

  test.prop(
    [fc.string({ unit: "grapheme", minLength: MAX_BYTES / 8, maxLength: MAX_BYTES / 2 })],
    PROPERTY_RUNS,
  )("a session near maxBytes is stored whole, or refused with nothing written", async (text) => {
    const sid = newSid();
    await create(sid, { user: "u" });
    const before = await admin.hgetall(`sess:${sid}`);
    const session = await load(sid);
    session.note = text;
    try {
      await save(session);
      expect((await stored(sid))?.note).toBe(text);
    } catch (error) {
      expect(error).toBeInstanceOf(SessionTooLargeError);
      expect(await admin.hgetall(`sess:${sid}`)).toStrictEqual(before);
    }
  });

  // Values up to 150 characters: some stay fields of their own, some go to `$pack` (over 64
  // bytes of JSON), and move between the two as they change.
  const packKey = fc.constantFrom("a", "b", "c", "ключ", "with\nnewline", "x y");
  const change = fc.oneof(
    fc.record({ key: packKey, value: fc.string({ unit: "grapheme", maxLength: 150 }) }),
    fc.record({ key: packKey, value: fc.constant(undefined) }),
  );
  test.prop([fc.array(change, { minLength: 1, maxLength: 12 })], PROPERTY_RUNS)(
    "a run of changes and deletions of short and long values leaves the session they describe",
    async (changes) => {
      const sid = newSid();
      await create(sid, { user: "u" });
      const model: Record<string, unknown> = { user: "u" };
      for (const { key, value } of changes) {
        const session = await load(sid);
        if (value === undefined) {
          Reflect.deleteProperty(session, key);
          Reflect.deleteProperty(model, key);
        } else {
          session[key] = value;
          model[key] = value;
        }
        await save(session);
        const { cookie: _cookie, ...data } = (await stored(sid)) ?? {};
        expect(data).toEqual(model);
      }
    },
  );

  test.prop([fc.uint8Array({ maxLength: 200 })], PROPERTY_RUNS)(
    "random bytes in a session's $pack read as no session (or a session with a cookie), never an error",
    async (bytes) => {
      const sid = newSid();
      const key = `sess:${sid}`;
      await admin.hset(key, "cookie", JSON.stringify(cookie()), "$pack", Buffer.from(bytes));
      const result = await stored(sid);
      if (result !== null) expect(typeof result.cookie).toBe("object");
      await admin.del(key);
    },
  );

  test.prop(
    [
      fc.array(fc.tuple(fc.uint8Array({ maxLength: 12 }), fc.uint8Array({ maxLength: 60 })), {
        minLength: 1,
        maxLength: 6,
      }),
    ],
    PROPERTY_RUNS,
  )(
    "random bytes in a stored hash read as no session (or a session with a cookie), never an error",
    async (pairs) => {
      const sid = newSid();
      const key = `sess:${sid}`;
      await admin.hset(
        key,
        ...pairs.flatMap(([f, v]) => [Buffer.from(f.length === 0 ? [120] : f), Buffer.from(v)]),
      );
      const result = await stored(sid);
      if (result !== null) expect(typeof result.cookie).toBe("object");
      await admin.del(key);
    },
  );
});
