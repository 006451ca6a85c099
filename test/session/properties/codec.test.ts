import { fc, test } from "@fast-check/vitest";
import { describe, expect } from "vitest";
import { decodeSession, diffSessions, encodeSession } from "../../../src/session/codec.js";
import { PROPERTY_RUNS } from "./settings.js";

// The session codec on any JSON a session can hold. Pure: no Redis.

/** Session keys: anything but the store's own `$` prefix, with the awkward ones made likely. */
const sessionKey = fc
  .oneof(
    fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }),
    fc.constantFrom("__proto__", "constructor", "prototype", "toString", "cookie2", "uid", "user"),
  )
  .filter((key) => !key.startsWith("$") && key !== "cookie");

const jsonValue = fc.jsonValue({ maxDepth: 3 });

const cookie = fc.record({
  originalMaxAge: fc.oneof(fc.constant(null), fc.integer({ min: 1, max: 10 ** 10 })),
  httpOnly: fc.boolean(),
  secure: fc.boolean(),
  path: fc.constant("/"),
  sameSite: fc.constantFrom("lax", "strict", "none"),
});

/** A session as express-session hands it over after JSON: a cookie and any keys. */
const session = fc
  .tuple(cookie, fc.dictionary(sessionKey, jsonValue, { maxKeys: 8 }))
  .map(([settings, data]) => {
    const result: Record<string, unknown> = { cookie: settings };
    for (const [key, value] of Object.entries(data)) {
      Object.defineProperty(result, key, { value, enumerable: true, writable: true });
    }
    return result;
  });

/** The flat `[field, value, …]` HGETALL would return for an encoding. */
function stored(fields: Map<string, string>): string[] {
  return [...fields].flat();
}

describe("session codec properties", () => {
  test.prop([session], PROPERTY_RUNS)(
    "a session read back after encoding equals the session as JSON",
    (data) => {
      const encoded = encodeSession(data);
      const decoded = decodeSession(["hash", stored(encoded.fields)]);
      // Compared as JSON text: same keys, same order, same values (a key named `constructor`
      // trips up toStrictEqual's type check). The cookie is stored without express-session's
      // defaults and read back with them, its settings equal but maybe in another order.
      expect(JSON.stringify({ ...decoded?.data, cookie: undefined })).toBe(
        JSON.stringify({ ...data, cookie: undefined }),
      );
      expect({ ...(decoded?.data.cookie as object | undefined) }).toStrictEqual({
        ...(data.cookie as object),
      });
      expect(Object.keys(decoded?.data ?? {})).toStrictEqual(Object.keys(data));
      // `__proto__` stays a key of its own, never the object's prototype.
      expect(Object.getPrototypeOf(decoded?.data)).toBe(Object.prototype);
    },
  );

  test.prop([session, session], PROPERTY_RUNS)(
    "a computed delta applied to the old hash gives the new encoding",
    (before, after) => {
      // The same cookie settings: a changed cookie is written whole, like any changed field.
      after.cookie = before.cookie;
      const previous = encodeSession(before);
      const next = encodeSession(after);
      const { changed, removed } = diffSessions(next, previous);
      const hash = new Map(previous.fields);
      for (let i = 0; i + 1 < changed.length; i += 2)
        hash.set(changed[i] ?? "", changed[i + 1] ?? "");
      for (const field of removed) hash.delete(field);
      expect(hash).toStrictEqual(next.fields);
      // Nothing unchanged is sent.
      for (let i = 0; i < changed.length; i += 2) {
        expect(previous.fields.get(changed[i] ?? "")).not.toBe(changed[i + 1]);
      }
    },
  );

  test.prop(
    [
      fc.array(fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 40 })), {
        maxLength: 6,
      }),
    ],
    PROPERTY_RUNS,
  )(
    "any bytes in a stored hash: a session or a clean CorruptSessionError, nothing else",
    (pairs) => {
      try {
        const decoded = decodeSession(["hash", pairs.flat()]);
        if (decoded !== undefined) expect(typeof decoded.data.cookie).toBe("object");
      } catch (error) {
        expect((error as Error).name).toBe("CorruptSessionError");
      }
    },
  );
});
