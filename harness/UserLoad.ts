import { pollUntil } from "./poll.js";
import { setTimeout as delay } from "node:timers/promises";
import { Browser } from "./Browser.js";

/** What the users saw while the load ran. */
export interface LoadStats {
  requests: number;
  /** Responses other than 2xx, and requests that got no response at all. */
  failed: number;
  unavailable: number;
  /** Responses saying the user was not logged in any more. */
  loggedOut: number;
  longestStallMs: number;
  /** Failed requests by status (0: no response), with the first body seen for each. */
  failures: Partial<Record<string, { count: number; example: string }>>;
}

/** After the load: what survived. */
export interface Verdict {
  /** Users whose session is gone. */
  loggedOut: number;
  /** Cart items a 2xx acknowledged that are not in the cart. */
  acknowledgedLost: number;
  /** Those items: whose, and when each was acknowledged (Date.now()). */
  lost: { user: string; item: string; acknowledgedAt: number }[];
}

class User {
  readonly browser = new Browser();
  readonly acknowledged: string[] = [];
  /** When each acknowledged item's request was answered (Date.now()), by item. */
  readonly acknowledgedAt = new Map<string, number>();
  /** Acknowledged items a checkout found missing from the cart. */
  lostAtCheckout = 0;
  sent = 0;

  constructor(
    readonly name: string,
    /** The app instance this user always goes to, when the load is pinned. */
    readonly home: number,
  ) {}
}

/** One cart write as the user saw it. */
export interface Response {
  user: string;
  /** The app url that answered (or did not). */
  url: string;
  /** 0: no response. */
  status: number;
  sentAt: number;
  ms: number;
}

/**
 * Logged-in users who keep adding items to their carts, one request after another, spread over
 * the app instances as a round-robin load balancer would. Every 2xx is an acknowledged item.
 */
export class UserLoad {
  readonly #users: User[];
  readonly #stats: LoadStats = {
    requests: 0,
    failed: 0,
    unavailable: 0,
    loggedOut: 0,
    longestStallMs: 0,
    failures: {},
  };
  /** When each acknowledged request was sent and answered (Date.now()), in answer order. */
  readonly #acknowledged: { sentAt: number; at: number }[] = [];
  /** Every cart write, in answer order. */
  readonly responses: Response[] = [];
  #running = false;
  #loops: Promise<void>[] = [];
  #next = 0;
  readonly #pinned: boolean;
  readonly #checkoutEvery: number | undefined;

  /**
   * `pinned`: each user always goes to the same instance (user i to instance i mod n), as with
   * sticky sessions; otherwise every request goes to the next instance. `checkoutEvery`: after
   * that many acknowledged items a user reads the cart, counts what is missing, and empties it
   * (so a long run's sessions stay small).
   */
  constructor(
    private readonly urls: string[],
    users = 20,
    private readonly thinkMs = 25,
    { pinned = false, checkoutEvery }: { pinned?: boolean; checkoutEvery?: number } = {},
  ) {
    this.#pinned = pinned;
    this.#checkoutEvery = checkoutEvery;
    this.#users = Array.from(
      { length: users },
      (_, i) => new User(`user-${i + 1}`, i % urls.length),
    );
  }

  #url(user?: User): string {
    const index = this.#pinned && user !== undefined ? user.home : this.#next++;
    const url = this.urls[index % this.urls.length];
    if (url === undefined) throw new Error("no app urls");
    return url;
  }

  async loginAll(): Promise<void> {
    await Promise.all(
      this.#users.map(async (user) => {
        const response = await user.browser.request(`${this.#url(user)}/login`, {
          method: "POST",
          json: { user: user.name },
        });
        if (response.status !== 200)
          throw new Error(`${user.name} could not log in: ${response.status}`);
      }),
    );
  }

  start(): void {
    this.#running = true;
    this.#loops = this.#users.map((user) => this.#run(user));
  }

  async stop(): Promise<LoadStats> {
    this.#running = false;
    await Promise.all(this.#loops);
    return { ...this.#stats };
  }

  async #run(user: User): Promise<void> {
    while (this.#running) {
      const item = `${user.name}-${++user.sent}`;
      const started = performance.now();
      const sentAt = Date.now();
      let status = 0;
      let body: unknown;
      const url = this.#url(user);
      try {
        const response = await user.browser.request(`${url}/cart`, {
          method: "POST",
          json: { item },
        });
        status = response.status;
        body = response.body;
      } catch (error) {
        body = error instanceof Error ? error.message : error;
      }
      const stall = performance.now() - started;
      this.responses.push({ user: user.name, url, status, sentAt, ms: Math.round(stall) });
      this.#stats.requests++;
      this.#stats.longestStallMs = Math.max(this.#stats.longestStallMs, Math.round(stall));
      if (status >= 200 && status < 300) {
        user.acknowledged.push(item);
        user.acknowledgedAt.set(item, Date.now());
        this.#acknowledged.push({ sentAt, at: Date.now() });
      } else {
        this.#stats.failed++;
        const seen = (this.#stats.failures[status] ??= { count: 0, example: JSON.stringify(body) });
        seen.count++;
      }
      if (status === 503) this.#stats.unavailable++;
      if (status === 401) this.#stats.loggedOut++;
      const every = this.#checkoutEvery;
      if (every !== undefined && user.acknowledged.length >= every) await this.#checkout(user);
      await delay(this.thinkMs);
    }
  }

  /**
   * Reads the cart (asking again through 503s), counts acknowledged items it lacks, then empties
   * it, asking again until the emptying is acknowledged; only then does the count start afresh.
   */
  async #checkout(user: User): Promise<void> {
    const url = this.#url(user);
    const cart = await this.#until2xx(user, url, "GET");
    if (cart === undefined) return;
    const items = new Set((cart as { cart?: string[] }).cart ?? []);
    user.lostAtCheckout += user.acknowledged.filter((item) => !items.has(item)).length;
    if ((await this.#until2xx(user, url, "DELETE")) === undefined) return;
    user.acknowledged.length = 0;
    user.acknowledgedAt.clear();
  }

  /** Sends the request until it gets a 2xx (the body), or stops on a 401 or when the load stops. */
  async #until2xx(user: User, url: string, method: "GET" | "DELETE"): Promise<unknown> {
    while (this.#running) {
      const started = performance.now();
      const sentAt = Date.now();
      let status = 0;
      let body: unknown;
      try {
        const response = await user.browser.request(`${url}/cart`, { method });
        status = response.status;
        body = response.body;
      } catch {
        // no answer: status 0
      }
      const ms = Math.round(performance.now() - started);
      this.responses.push({ user: user.name, url, status, sentAt, ms });
      if (status >= 200 && status < 300) return body;
      if (status === 401) return undefined;
      await delay(this.thinkMs);
    }
    return undefined;
  }

  /**
   * Stops the users, reads every cart back and prints the scenario's line of figures (with `more`
   * figures at its end).
   */
  async finish(
    scenario: string,
    more: (stats: LoadStats) => Promise<string[]> | string[] = () => [],
  ): Promise<{ stats: LoadStats; verdict: Verdict }> {
    const stats = await this.stop();
    const verdict = await this.verify();
    report(scenario, stats, verdict, await more(stats));
    return { stats, verdict };
  }

  /**
   * Waits until the users have had `count` more writes acknowledged than so far: the load ran
   * (before an event), or came back (after one). Fails after `timeoutMs`.
   */
  async acknowledges(count: number, timeoutMs = 30_000): Promise<void> {
    const target = this.#acknowledged.length + count;
    await pollUntil(
      `${count} more acknowledged writes (${this.#acknowledged.length} of ${target} so far)`,
      () => this.#acknowledged.length >= target,
      { timeoutMs, intervalMs: 20 },
    );
  }

  /**
   * When the first write sent after `since` (Date.now() time) was acknowledged: after a master
   * kill, the first one the new master took.
   */
  firstAcknowledgedAfter(since: number): number | undefined {
    return this.#acknowledged.find(({ sentAt }) => sentAt > since)?.at;
  }

  /** Reads every user's cart back and counts what was lost. */
  async verify(): Promise<Verdict> {
    const verdict: Verdict = { loggedOut: 0, acknowledgedLost: 0, lost: [] };
    for (const user of this.#users) {
      const response = await user.browser.request(`${this.#url()}/cart`);
      if (response.status !== 200) verdict.loggedOut++;
      const cart = new Set(
        response.status === 200 ? (response.body as { cart: string[] }).cart : [],
      );
      for (const item of user.acknowledged.filter((item) => !cart.has(item))) {
        const acknowledgedAt = user.acknowledgedAt.get(item) ?? 0;
        verdict.lost.push({ user: user.name, item, acknowledgedAt });
      }
    }
    verdict.acknowledgedLost = verdict.lost.length;
    return verdict;
  }

  get users(): readonly {
    name: string;
    home: number;
    lostAtCheckout: number;
    browser: Browser;
    acknowledged: readonly string[];
    acknowledgedAt: ReadonlyMap<string, number>;
  }[] {
    return this.#users;
  }
}

/** One line of figures per scenario, for the log and the README. */
export function report(
  scenario: string,
  stats: LoadStats,
  verdict: Verdict,
  more: string[] = [],
): string {
  const line =
    `${scenario}: ${stats.requests} requests, ${stats.failed} failed (${stats.unavailable} × 503), ` +
    `${verdict.acknowledgedLost} acknowledged writes lost, ${verdict.loggedOut + stats.loggedOut} logged out, ` +
    `longest stall ${stats.longestStallMs} ms` +
    more.map((part) => `, ${part}`).join("") +
    (stats.failed > 0 ? `; failures: ${JSON.stringify(stats.failures)}` : "");
  console.log(line);
  return line;
}
