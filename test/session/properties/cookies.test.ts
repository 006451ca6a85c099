import { sign } from "cookie-signature";
import { fc, test } from "@fast-check/vitest";
import { beforeAll, describe, expect } from "vitest";
import request from "supertest";
import { useSingleNode } from "../../support/hooks.js";
import { agentOn, sessionCookie, sessionIdOf, useApp } from "../../support/agent.js";
import { createTestApp, TEST_SECRET } from "../../../harness/app/testApp.js";
import { PROPERTY_RUNS } from "./settings.js";

// What arrives in a Cookie header is the attacker's choice: nothing in it may authenticate
// without the signature, reach another session, or make the app fail.

const redis = useSingleNode();
const server = useApp(() => createTestApp({ redis: redis.current.url }).app);

/** A logged-in user's cookie value (`s:<sid>.<signature>`) and session id. */
let live: { value: string; sid: string };

beforeAll(async () => {
  const browser = agentOn(server.app);
  await browser.post("/login").send({ user: "alice" });
  const value = sessionCookie(browser);
  const sid = sessionIdOf(browser);
  if (value === undefined || sid === undefined) throw new Error("no cookie");
  live = { value, sid };
});

/** GET /me with a raw Cookie header. */
async function visit(
  cookieHeader: string,
): Promise<{ status: number; user: unknown; setCookie: string[] }> {
  const response = await request(server.app)
    .get("/me")
    .set("cookie", cookieHeader)
    .set("accept", "application/json");
  // supertest parses JSON only: any other body is {}, with no user.
  const { user } = response.body as { user?: unknown };
  const setCookie = response.headers["set-cookie"] as string[] | undefined;
  return { status: response.status, user, setCookie: setCookie ?? [] };
}

/** Ways to change a cookie value, each given the live value and random choices. */
const tampering = fc.oneof(
  fc.record({
    kind: fc.constant("bit flip" as const),
    at: fc.nat(),
    bit: fc.integer({ min: 0, max: 6 }),
  }),
  fc.record({ kind: fc.constant("truncation" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("suffix" as const),
    text: fc.string({ minLength: 1, maxLength: 8 }),
  }),
  fc.record({ kind: fc.constant("case" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("no s: prefix" as const) }),
  fc.record({
    kind: fc.constant("retired secret" as const),
    secret: fc.string({ minLength: 32, maxLength: 40 }),
  }),
  fc.record({ kind: fc.constant("bare sid" as const) }),
  fc.record({
    kind: fc.constant("other sid, copied signature" as const),
    sid: fc.base64String({ minLength: 32, maxLength: 32 }),
  }),
);

function tamper(value: string, sid: string, change: Tampering): string {
  switch (change.kind) {
    case "bit flip": {
      const at = change.at % value.length;
      const flipped = String.fromCharCode(value.charCodeAt(at) ^ (1 << change.bit));
      return value.slice(0, at) + flipped + value.slice(at + 1);
    }
    case "truncation":
      return value.slice(0, change.at % value.length);
    case "suffix":
      return value + change.text;
    case "case": {
      const at = change.at % value.length;
      const char = value.charAt(at);
      const swapped = char === char.toUpperCase() ? char.toLowerCase() : char.toUpperCase();
      return value.slice(0, at) + swapped + value.slice(at + 1);
    }
    case "no s: prefix":
      return value.slice(2);
    case "retired secret":
      return `s:${sign(sid, change.secret)}`;
    case "bare sid":
      return sid;
    case "other sid, copied signature":
      return `s:${change.sid}${value.slice(value.lastIndexOf("."))}`;
  }
}

type Tampering = typeof tampering extends fc.Arbitrary<infer T> ? T : never;

describe("cookie properties", () => {
  test("control: the cookie as issued authenticates", async () => {
    expect((await visit(`sid=${encodeURIComponent(live.value)}`)).user).toBe("alice");
  });

  test.prop([tampering], PROPERTY_RUNS)(
    "a tampered session cookie never authenticates and never reaches another session",
    async (change) => {
      const value = tamper(live.value, live.sid, change);
      fc.pre(
        value !== live.value &&
          !(change.kind === "retired secret" && change.secret === TEST_SECRET),
      );
      const visited = await visit(`sid=${encodeURIComponent(value)}`);
      expect(visited.status).toBe(200);
      expect(visited.user).toBeNull();
      // A fresh anonymous session at most: never a cookie naming the live one.
      for (const line of visited.setCookie)
        expect(decodeURIComponent(line)).not.toContain(live.sid);
    },
  );

  test.prop(
    [
      fc.string({
        unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
        maxLength: 120,
      }),
    ],
    PROPERTY_RUNS,
  )("any Cookie header is answered, never with a 5xx", async (header) => {
    const visited = await visit(header);
    expect(visited.status).toBe(200);
    expect(visited.user === null || visited.user === "alice").toBe(true);
    if (visited.user === "alice") expect(header).toContain(encodeURIComponent(live.value));
  });
});
