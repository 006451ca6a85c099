import { mkdir } from "node:fs/promises";
import { chromium } from "playwright-core";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, expect, test } from "vitest";
import { pollUntil } from "../../harness/poll.js";
import { LaunchedDemo } from "./launchDemo.js";

let demo: LaunchedDemo;
let browser: Browser;

beforeAll(async () => {
  await mkdir("test-results", { recursive: true });
  demo = await LaunchedDemo.start();
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    // As root in a sandbox-less container, and without the background traffic this closed
    // network refuses.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});
beforeEach(({ onTestFailed }) => {
  onTestFailed(() => {
    console.error(`What the demo's instances logged:\n${demo.libraryLog}`);
  });
});
afterAll(async () => {
  await browser.close();
  await demo.interrupt();
});

/** Reloads the page `times` times; each must be the logged-in page. Returns the instance ids. */
async function reloadLoggedIn(page: Page, times: number, cartCount: string): Promise<string[]> {
  const instances: string[] = [];
  for (let i = 0; i < times; i++) {
    const response = await page.reload();
    const status = response?.status();
    // The body says who answered (HAProxy or the app) when it is not a 200.
    expect(status === 200 ? status : `${String(status)}: ${(await response?.text()) ?? ""}`).toBe(
      200,
    );
    await expect(page.locator("#user").textContent()).resolves.toBe("alice");
    await expect(page.locator("#cart-count").textContent()).resolves.toBe(cartCount);
    instances.push((await page.locator("#instance").textContent()) ?? "");
  }
  return instances;
}

test("a user stays logged in with the cart intact while an instance and the Redis master are killed", async () => {
  const app = await browser.newPage();
  await app.goto(demo.info.url);
  await expect(app.locator("h1").textContent()).resolves.toBe("Log in");
  await app.fill('input[name="username"]', "alice");
  await app.fill('input[name="password"]', "alice-demo-password");
  await app.click('button[type="submit"]');
  await app.waitForSelector("#user");

  const served = await reloadLoggedIn(app, 10, "0");
  expect(new Set(served).size).toBeGreaterThanOrEqual(2);

  for (const item of ["tea", "milk"]) {
    await app.fill('input[name="item"]', item);
    await app.click('form[action="/cart"] button');
    await app.waitForSelector(`#cart li:has-text("${item}")`);
  }

  const panel = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await panel.goto(demo.info.control);
  await panel.waitForSelector('#instances tr[data-instance="app-1"] button:has-text("Kill")');
  await panel.click('#instances tr[data-instance="app-1"] button:has-text("Kill")');
  await panel.waitForSelector('#instances tr[data-instance="app-1"] .down');

  const afterKill = await reloadLoggedIn(app, 10, "2");
  expect(afterKill).not.toContain("app-1");

  const { redis } = await demo.state();
  await panel.click("#kill-master");
  await reloadLoggedIn(app, 10, "2");
  await pollUntil("Sentinel to promote a new master", async () => {
    const state = await demo.state();
    return state.redis.master !== null && state.redis.master.name !== redis.master?.name;
  });
  await reloadLoggedIn(app, 5, "2");
  await expect(app.locator("#cart").textContent()).resolves.toBe("teamilk");

  // A planned failover (SENTINEL FAILOVER) from the panel: the remaining replica takes over.
  const promoted = (await demo.state()).redis.master?.name;
  await panel.click("#switch-master");
  await panel.waitForSelector('#events li:has-text("SENTINEL FAILOVER")');
  await pollUntil("Sentinel to hand the master over", async () => {
    const state = await demo.state();
    return state.redis.master !== null && state.redis.master.name !== promoted;
  });
  await reloadLoggedIn(app, 5, "2");
  await expect(app.locator("#cart").textContent()).resolves.toBe("teamilk");

  await app.screenshot({ path: "test-results/demo-app.png", fullPage: true });
  await panel.waitForSelector('#events li:has-text("failover")');
  await panel.waitForTimeout(2_000);
  await panel.screenshot({ path: "test-results/control-panel.png", fullPage: true });
});

test("the products page says whether the cache hit, a price saved through it shows at once, and the panel charts the cache", async () => {
  const app = await browser.newPage();
  await app.goto(`${demo.info.url}/products/700`);
  await expect(app.locator("#cache").textContent()).resolves.toBe("miss");
  await expect(app.locator("body").textContent()).resolves.toContain("Log in to change the price");
  const name = await app.locator("#product-name").textContent();
  for (let i = 0; i < 3; i++) {
    await app.reload();
    await expect(app.locator("#cache").textContent()).resolves.toBe("hit");
    await expect(app.locator("#product-name").textContent()).resolves.toBe(name);
  }

  await app.goto(`${demo.info.url}/login`);
  await app.fill('input[name="username"]', "bob");
  await app.fill('input[name="password"]', "bob-demo-password");
  await app.click('button[type="submit"]');
  await app.waitForSelector("#user");
  await app.click('a[href="/products/1"]');
  await app.waitForSelector("#product-name");
  await app.goto(`${demo.info.url}/products/700`);
  await app.fill('input[name="priceCents"]', "1234");
  await app.click('form[action="/products/700"] button');
  await app.waitForURL(`${demo.info.url}/products/700`);
  for (let i = 0; i < 3; i++) {
    await expect(app.locator("#price").textContent()).resolves.toBe("12.34");
    // Written through: the cache holds the new price, no database read needed.
    await expect(app.locator("#cache").textContent()).resolves.toBe("hit");
    await app.reload();
  }
  await app.screenshot({ path: "test-results/products-page.png", fullPage: true });

  const panel = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
  await panel.goto(demo.info.control);
  await panel.click("#flush-cache");
  await panel.waitForSelector('#events li:has-text("flushed the cache")');
  await panel.fill("#read-delay", "200");
  await panel.click("#slow-database");
  await panel.waitForSelector('#database td:has-text("200 ms")');
  // The synthetic users' product reads: misses after the flush, the ratio climbing back.
  await pollUntil("the cache chart's line to show a hit ratio and database queries", async () => {
    const text = (await panel.locator("#cache-now").textContent()) ?? "";
    return /hit ratio \d+(\.\d)? % · [1-9]\d* database queries\/s/.test(text);
  });
  await panel.waitForTimeout(3_000);
  await panel.click("#fast-database");
  await panel.waitForSelector('#database td:has-text("none")');
  await panel.screenshot({ path: "test-results/control-panel-cache.png", fullPage: true });
});
