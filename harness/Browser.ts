/** A user agent with one cookie jar: it keeps the session cookie between requests. */
export class Browser {
  cookie: string | undefined;
  /** The other cookies the site set (as `readFrom: "replica"`'s `sid.v`), by name. */
  readonly cookies = new Map<string, string>();
  /** The User-Agent header it sends, if set (else fetch's own). */
  userAgent: string | undefined;

  constructor(readonly cookieName = "sid") {}

  /** Sends a request with the jar's cookie; stores a Set-Cookie for the session. */
  async request(
    url: string,
    {
      method = "GET",
      json,
      accept = "application/json",
      timeoutMs = 60_000,
    }: { method?: string; json?: unknown; accept?: string; timeoutMs?: number } = {},
  ): Promise<{ status: number; body: unknown; setCookie: string | undefined; headers: Headers }> {
    const headers: Record<string, string> = { accept };
    const sent = [...this.cookies].map(([name, value]) => `${name}=${value}`);
    if (this.cookie !== undefined) {
      sent.unshift(`${this.cookieName}=${encodeURIComponent(this.cookie)}`);
    }
    if (sent.length > 0) headers.cookie = sent.join("; ");
    if (json !== undefined) headers["content-type"] = "application/json";
    if (this.userAgent !== undefined) headers["user-agent"] = this.userAgent;
    const response = await fetch(url, {
      method,
      headers,
      body: json === undefined ? undefined : JSON.stringify(json),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const lines = response.headers.getSetCookie();
    const setCookie = lines.find((line) => line.startsWith(`${this.cookieName}=`));
    for (const line of lines) {
      const [pair = ""] = line.split(";");
      const at = pair.indexOf("=");
      const name = pair.slice(0, at);
      if (at > 0 && name !== this.cookieName) this.cookies.set(name, pair.slice(at + 1));
    }
    if (setCookie !== undefined) {
      this.cookie = decodeURIComponent(
        setCookie.slice(this.cookieName.length + 1).split(";")[0] ?? "",
      );
    }
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body, setCookie, headers: response.headers };
  }

  /** The session id inside the signed cookie value `s:<sid>.<signature>`. */
  get sessionId(): string | undefined {
    return sessionIdIn(this.cookie);
  }
}

/** The session id in a signed session cookie's value (`s:<id>.<signature>`). */
export function sessionIdIn(cookie: string | undefined): string | undefined {
  return cookie?.replace(/^s:/, "").replace(/\.[^.]*$/, "");
}
