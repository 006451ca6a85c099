import { setTimeout as delay } from "node:timers/promises";
import { Browser } from "../../harness/Browser.js";
import { DEMO_USERS, demoPassword } from "../users.js";

/** One second of what the synthetic users saw. */
export interface Sample {
  /** Unix time, seconds. */
  t: number;
  requests: number;
  errors: number;
  /** Latency percentiles of that second, ms (null when there were no requests). */
  p50: number | null;
  p99: number | null;
  users: number;
  /** Product reads the cache answered, and those it missed (the app read PostgreSQL). */
  cacheHits: number;
  cacheMisses: number;
  /** Product reads answered with an expired value while it was refreshed (stale-while-revalidate). */
  cacheStale: number;
}

/** Products the users look at: 1–200, the low ids far more often (a few bestsellers). */
const PRODUCTS = 200;
const someProduct = () => 1 + Math.floor(PRODUCTS * Math.random() ** 2);

/**
 * Simulated users clicking through the load balancer: each logs in, then keeps reading its page,
 * looking at products (now and then changing a price) and adding to its cart, a request every
 * 100 ms or so. Counts requests, errors, latency and the cache's hits and misses.
 */
export class SyntheticUsers {
  #loops: { stop: boolean; done: Promise<void> }[] = [];
  #latencies: number[] = [];
  #errors = 0;
  #cache = { hits: 0, misses: 0, stale: 0 };
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly url: string,
    private readonly onSample: (sample: Sample) => void,
  ) {}

  get count(): number {
    return this.#loops.length;
  }

  start(): void {
    this.#timer = setInterval(() => {
      this.#flush();
    }, 1_000);
  }

  /** Starts or stops users until `count` are running. */
  setCount(count: number): void {
    while (this.#loops.length < count) {
      const loop = { stop: false, done: Promise.resolve() };
      loop.done = this.#run(loop, this.#loops.length);
      this.#loops.push(loop);
    }
    for (const loop of this.#loops.splice(count)) loop.stop = true;
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    const loops = this.#loops.splice(0);
    for (const loop of loops) loop.stop = true;
    await Promise.all(loops.map((loop) => loop.done));
  }

  #flush(): void {
    const latencies = this.#latencies.sort((a, b) => a - b);
    const pick = (q: number) =>
      latencies.length === 0
        ? null
        : Math.round(
            latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0,
          );
    this.onSample({
      t: Math.floor(Date.now() / 1000),
      requests: latencies.length,
      errors: this.#errors,
      p50: pick(0.5),
      p99: pick(0.99),
      users: this.#loops.length,
      cacheHits: this.#cache.hits,
      cacheMisses: this.#cache.misses,
      cacheStale: this.#cache.stale,
    });
    this.#latencies = [];
    this.#errors = 0;
    this.#cache = { hits: 0, misses: 0, stale: 0 };
  }

  async #run(loop: { stop: boolean }, index: number): Promise<void> {
    const username = DEMO_USERS[index % DEMO_USERS.length] ?? "alice";
    const browser = new Browser();
    let step = 0;
    while (!loop.stop) {
      const [method, path, json] =
        browser.cookie === undefined
          ? (["POST", "/login", { username, password: demoPassword(username) }] as const)
          : step % 3 === 2
            ? (["POST", "/api/cart", { item: `item ${step}` }] as const)
            : step % 3 === 0
              ? (["GET", "/api/me", undefined] as const)
              : step % 30 === 16
                ? ([
                    "PUT",
                    `/api/products/${someProduct()}`,
                    { priceCents: 100 + Math.floor(Math.random() * 4900) },
                  ] as const)
                : (["GET", `/api/products/${someProduct()}`, undefined] as const);
      const started = performance.now();
      let ok: boolean;
      try {
        const { status, body } = await browser.request(`${this.url}${path}`, {
          method,
          json,
          timeoutMs: 20_000,
        });
        ok = status >= 200 && status < 300;
        const { cache } = (body ?? {}) as { cache?: unknown };
        if (ok && cache === "hit") this.#cache.hits++;
        if (ok && cache === "miss") this.#cache.misses++;
        if (ok && cache === "stale") this.#cache.stale++;
        if (status === 401) browser.cookie = undefined;
      } catch {
        ok = false;
      }
      this.#latencies.push(performance.now() - started);
      if (!ok) this.#errors++;
      step++;
      await delay(100);
    }
  }
}
