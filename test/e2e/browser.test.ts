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

  await app.screenshot({ path: "test-results/demo-app.png", fullPage: true });
  await panel.waitForSelector('#events li:has-text("failover")');
  await panel.waitForTimeout(2_000);
  await panel.screenshot({ path: "test-results/control-panel.png", fullPage: true });
});
