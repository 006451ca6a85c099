import { CookieAccessInfo } from "cookiejar";
import type { Express } from "express";
import request from "supertest";
import type { Response } from "supertest";
import type TestAgent from "supertest/lib/agent.js";
import { beforeAll } from "vitest";
import { sessionIdIn } from "../../harness/Browser.js";

/** The file's in-process app, created once the Redis it needs is up. */
export function useApp(create: () => Express): { readonly app: Express } {
  let app: Express | undefined;
  beforeAll(() => {
    app = create();
  });
  return {
    get app(): Express {
      if (app === undefined) throw new Error("app not created (used outside a test?)");
      return app;
    },
  };
}

/** A user agent on `app` that asks for JSON and keeps its cookies between requests. */
export function agentOn(app: Express): TestAgent {
  return request.agent(app).set("accept", "application/json");
}

/** Where the agent's cookies apply: supertest serves the app on 127.0.0.1. */
const SITE = new CookieAccessInfo("127.0.0.1", "/", false, false);
const COOKIE = "sid";

/** The agent's session cookie value (`s:<sid>.<signature>`), if it has one. */
export function sessionCookie(agent: TestAgent): string | undefined {
  const value = agent.jar.getCookie(COOKIE, SITE)?.value;
  return value === undefined ? undefined : decodeURIComponent(value);
}

/** The session id inside the agent's signed cookie. */
export function sessionIdOf(agent: TestAgent): string | undefined {
  return sessionIdIn(sessionCookie(agent));
}

/** Gives the agent `value` as its session cookie (another's, an old or a forged one). */
export function setSessionCookie(agent: TestAgent, value: string | undefined): void {
  agent.jar.setCookie(`${COOKIE}=${encodeURIComponent(value ?? "")}; Path=/`, "127.0.0.1", "/");
}

/** The response's Set-Cookie line for the session, if it sent one. */
export function sessionSetCookie(response: Response): string | undefined {
  const header = response.headers["set-cookie"] as string[] | string | undefined;
  const lines = header === undefined ? [] : Array.isArray(header) ? header : [header];
  return lines.find((line) => line.startsWith(`${COOKIE}=`));
}
