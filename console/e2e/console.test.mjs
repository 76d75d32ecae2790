// The growth console end to end, in headless Chromium against `growstack serve` seeded by
// seed.mjs. Every number asserted here is the fixture's, written down by hand.
// Run through scripts/console_e2e.sh (it starts the server, seeds, and sets the env).

import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { createHmac } from "node:crypto";
import { createServer } from "node:http";
import { chromium } from "playwright-core";

const BASE = process.env.CONSOLE_BASE_URL ?? "http://127.0.0.1:3911";
const fixture = JSON.parse(readFileSync(process.env.CONSOLE_FIXTURE, "utf8"));
const ADMIN = { email: process.env.CONSOLE_ADMIN_EMAIL, password: process.env.CONSOLE_ADMIN_PASSWORD };
const SHOTS = new URL("./screenshots/", import.meta.url).pathname;

let browser;
before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    // Without the background-networking flags Chromium reaches for the (closed) network
    // and stalls. Playwright gives it a fresh temporary profile.
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});
after(() => browser?.close());

async function newPage(width = 1280) {
  const context = await browser.newContext({ viewport: { width, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  return page;
}

async function signIn(page, email, password = fixture.password) {
  await page.goto(`${BASE}/console/`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

async function signedIn(page, email, password) {
  await signIn(page, email, password);
  await page.locator("nav#nav").waitFor();
}

const shot = (page, name) => page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true });

/** The numbers a funnel table shows, from its rows' data attributes. */
const usersOf = (page, testid) => page.locator(`[data-testid="${testid}"] tbody tr`).evaluateAll((rows) => rows.map((r) => Number(r.dataset.users)));

/** Goes to a console route and waits until it has rendered and loaded. */
async function open(page, path) {
  await page.evaluate((p) => (location.hash = p), `#/${path}`);
  const section = path.split(/[/?]/)[0];
  await page.locator(`nav#nav a[aria-current="page"][href="#/${section}"]`).waitFor({ state: "attached" });
  await page.locator("main h1").waitFor();
  await page.waitForFunction(() => !document.querySelector("main .state.loading"));
}

test("the console is served at /console with its client-side routes", async () => {
  const res = await fetch(`${BASE}/console`, { redirect: "manual" });
  assert.equal(res.headers.get("location"), "/console/");
  const deep = await fetch(`${BASE}/console/experiments/anything`);
  assert.equal(deep.status, 200);
  assert.match(await deep.text(), /<div id="app">/);
});

test("a plain user is refused the console", async () => {
  const page = await newPage();
  await signIn(page, fixture.plain);
  const error = page.getByTestId("login-error");
  await error.waitFor();
  assert.match(await error.innerText(), /for staff/);
  assert.equal(await page.locator("nav#nav").count(), 0);
  assert.equal(await page.evaluate(() => localStorage.length), 0);
  await shot(page, "login-refused");
  await page.context().close();
});

test("an analyst sees the fixture's funnel, onboarding and referrals", async () => {
  const page = await newPage();
  await signedIn(page, fixture.analyst);
  // Role-aware navigation: no admin pages.
  const nav = await page.locator("nav#nav a").allInnerTexts();
  assert.deepEqual(nav, ["Overview", "Onboarding", "Retention", "Funnels", "Referrals", "Experiments"]);
  await page.getByTestId("tile-users").getByTestId("value").waitFor();
  assert.equal(await page.getByTestId("tile-users").getByTestId("value").innerText(), "15");
  assert.equal(await page.getByTestId("tile-new-users").getByTestId("value").innerText(), "15");
  assert.equal(await page.getByTestId("tile-referrals").getByTestId("value").innerText(), "5");
  assert.equal(await page.getByTestId("tile-kyc-conversion").getByTestId("value").innerText(), "20.0 %");
  assert.equal(await page.locator('[data-testid="tile-rewards"] [data-currency="NGN"]').getAttribute("data-amount"), "1250.00");
  await shot(page, "overview");

  await open(page, "funnels");
  await page.getByLabel("Step 1 event").fill("app_opened");
  await page.getByLabel("Step 2 event").fill("deposit_started");
  await page.getByRole("button", { name: "Add step" }).click();
  await page.getByLabel("Step 3 event").fill("deposit_completed");
  await page.getByLabel("Split referred / organic").check();
  await page.getByRole("button", { name: "Run funnel" }).click();
  await page.getByTestId("funnel-table").waitFor();
  assert.deepEqual(await usersOf(page, "funnel-table"), [10, 6, 3]);
  assert.deepEqual(await usersOf(page, "funnel-table-referred"), [4, 4, 2]);
  assert.deepEqual(await usersOf(page, "funnel-table-organic"), [6, 2, 1]);
  assert.deepEqual(await page.locator('[data-testid="funnel-table"] td.drop').evaluateAll((t) => t.map((c) => c.dataset.drop)), ["", "4", "3"]);
  assert.equal(await page.locator('[data-testid="funnel-result"] canvas').count(), 1);
  await shot(page, "funnels");

  // A step the API refuses shows its message at that step's field.
  await page.getByLabel("Step 3 event").fill("not an event!");
  await page.getByRole("button", { name: "Run funnel" }).click();
  const fieldError = page.locator('[data-field="step-2"] .field-error');
  await fieldError.waitFor();
  assert.ok((await fieldError.innerText()).length > 0);

  await open(page, "onboarding");
  await page.getByTestId("onboarding-table").waitFor();
  // Everyone starts on `email`; reaching it is verifying the address (Ada and three she
  // referred) or moving past it (three organic users reported `phone` unverified).
  assert.deepEqual(await usersOf(page, "onboarding-table"), [7, 6, 3, 3, 3]);
  assert.match(await page.locator("main").innerText(), /Time to KYC is shown to admins only/);
  await shot(page, "onboarding");

  await open(page, "retention");
  await page.getByTestId("retention-heatmap").waitFor();
  const cohortSizes = await page.locator('[data-testid="retention-heatmap"] tbody tr td:nth-of-type(1)').allInnerTexts();
  assert.equal(cohortSizes.map(Number).reduce((a, b) => a + b, 0), 15);
  await shot(page, "retention");

  await open(page, "referrals");
  const status = page.getByTestId("status-counts");
  await status.waitFor();
  assert.deepEqual(
    await status.evaluate((el) => ({ ...el.dataset })),
    { testid: "status-counts", pending: "1", completed: "2", rewarded: "1", failed: "1" },
  );
  assert.deepEqual(await page.locator('[data-testid="top-referrers"] tbody tr').evaluateAll((rows) => rows.map((r) => [r.dataset.referrer, r.querySelector("td").textContent])), [
    ["Ada Obi", "4"],
    ["Gbenga Ola", "1"],
  ]);
  await shot(page, "referrals");

  // At phone width: the menu folds away and nothing overflows sideways.
  await page.setViewportSize({ width: 375, height: 800 });
  await open(page, "funnels");
  assert.equal(await page.locator("nav#nav").isVisible(), false);
  await page.getByRole("button", { name: "Menu" }).click();
  assert.equal(await page.locator("nav#nav").isVisible(), true);
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 375), "the page scrolls sideways at 375 px");
  await shot(page, "phone-funnels");
  await page.context().close();
});

test("a marketer creates an experiment, sees the API's validation at the field, and starts it", async () => {
  const page = await newPage();
  await signedIn(page, fixture.marketer);
  await open(page, "experiments");
  await page.getByRole("button", { name: "New experiment" }).click();
  const key = `checkout-copy-${fixture.run}`;
  await page.getByLabel("Key").fill(key);
  await page.getByLabel("Name", { exact: true }).fill("Checkout copy");
  await page.getByLabel("Metric event").fill("deposit_completed");
  await page.getByLabel("Weight").nth(0).fill("60");
  await page.getByLabel("Weight").nth(1).fill("30");
  await page.getByRole("button", { name: "Create experiment" }).click();
  const variantsError = page.locator('[data-field="variants"]');
  await variantsError.waitFor();
  assert.match(await variantsError.innerText(), /sum to 90/);
  await shot(page, "experiment-create-error");

  await page.getByLabel("Weight").nth(1).fill("40");
  await page.getByRole("button", { name: "Create experiment" }).click();
  await page.getByRole("heading", { name: "Checkout copy" }).waitFor();
  assert.equal(await page.getByTestId("experiment-status").innerText(), "draft");
  await page.getByRole("button", { name: "Start" }).click();
  await page.locator('[data-testid="experiment-status"]', { hasText: "active" }).waitFor();
  assert.ok(await page.getByRole("button", { name: "Pause" }).isVisible());
  await shot(page, "experiment-started");

  await open(page, "experiments");
  await page.locator(`[data-testid="experiments"] tr[data-key="${key}"]`).waitFor();
  await shot(page, "experiments");
  await page.context().close();
});

test("experiment results draw interval bars, and a broken split raises the mismatch banner", async () => {
  const page = await newPage();
  await signedIn(page, fixture.analyst);
  await open(page, `experiments/${fixture.experiments.banner}`);
  await page.getByTestId("results").waitFor();
  const rows = await page.locator('[data-testid="results"] tbody tr').evaluateAll((rs) => rs.map((r) => [Number(r.dataset.participants), Number(r.dataset.conversions)]));
  assert.equal(rows.length, 2);
  assert.equal(rows[0][0] + rows[1][0], 14, "participants");
  assert.equal(rows[0][1] + rows[1][1], 5, "conversions");
  const bars = page.getByTestId("interval");
  assert.equal(await bars.count(), 1);
  const bar = await bars.evaluate((g) => ({ ...g.dataset }));
  assert.equal(bar.variant, "banner");
  assert.ok(Number(bar.low) <= Number(bar.diff) && Number(bar.diff) <= Number(bar.high), JSON.stringify(bar));
  assert.equal(await page.getByTestId("srm-banner").count(), 0);
  // An analyst reads results but changes nothing.
  assert.equal(await page.getByRole("button", { name: "Pause" }).count(), 0);
  await shot(page, "experiment-results");

  await open(page, `experiments/${fixture.experiments.pricing}`);
  const banner = page.getByTestId("srm-banner");
  await banner.waitFor();
  assert.match(await banner.innerText(), /Sample ratio mismatch/);
  assert.deepEqual(
    await page.locator('[data-testid="results"] tbody tr').evaluateAll((rs) => rs.map((r) => [r.dataset.variant, Number(r.dataset.participants)])),
    [
      ["control", 13],
      ["annual-first", 1],
    ],
  );
  await shot(page, "experiment-srm");
  await page.context().close();
});

test("an admin voids a reward, sees the total drop, and downloads the ledger as CSV", async () => {
  const page = await newPage();
  await signedIn(page, ADMIN.email, ADMIN.password);

  // The refresh token is out of script's reach: not in storage, not in document.cookie, but
  // an HttpOnly, Secure, SameSite=Strict cookie only the session calls are sent.
  assert.doesNotMatch(await page.evaluate(() => JSON.stringify(localStorage) + document.cookie), /refresh/i);
  const [cookie, ...others] = await page.context().cookies();
  assert.equal(others.length, 0);
  assert.deepEqual(
    { name: cookie.name, path: cookie.path, httpOnly: cookie.httpOnly, secure: cookie.secure, sameSite: cookie.sameSite },
    { name: "growstack_refresh", path: "/api/auth", httpOnly: true, secure: true, sameSite: "Strict" },
  );

  // An access token the server refuses is refreshed once (with the cookie), and the page still loads.
  await page.evaluate(() => {
    const key = "growstack.console.session";
    const s = JSON.parse(localStorage.getItem(key));
    localStorage.setItem(key, JSON.stringify({ ...s, accessToken: "expired" }));
  });
  await page.reload();
  await open(page, "rewards");
  const total = page.locator('[data-testid="reward-totals"] [data-currency="NGN"]');
  await total.waitFor();
  assert.notEqual(await page.evaluate(() => JSON.parse(localStorage.getItem("growstack.console.session")).accessToken), "expired");
  const [rotated] = await page.context().cookies();
  assert.notEqual(rotated.value, cookie.value, "the refresh rotated the cookie");
  assert.equal(await total.getAttribute("data-amount"), "1250.00");
  assert.deepEqual((await page.locator('[data-testid="rewards"] tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.amount))).sort(), ["250.00", "250.00", "250.00", "500.00"]);
  await shot(page, "rewards");

  const row = page.locator('[data-testid="rewards"] tr[data-amount="500.00"]');
  await row.getByRole("button", { name: "Void" }).click();
  await row.getByLabel("Reason for voiding").fill("duplicate payout request");
  await row.getByRole("button", { name: "Void reward" }).click();
  await page.locator('[data-testid="reward-totals"] [data-amount="750.00"]').waitFor();
  assert.equal(await page.locator('[data-testid="rewards"] tr[data-amount="500.00"]').getAttribute("data-status"), "voided");
  await shot(page, "rewards-voided");

  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download CSV" }).click()]);
  const csv = readFileSync(await download.path(), "utf8").trim().split("\n");
  assert.match(csv[0], /^id,referral_id,user_id,side,amount,currency,status/);
  const ledger = csv.slice(1).map((line) => line.split(","));
  assert.equal(ledger.length, 4);
  assert.deepEqual(ledger.map((f) => `${f[4]} ${f[6]}`).sort(), ["250.00 available", "250.00 available", "250.00 available", "500.00 voided"]);
  await page.context().close();
});

test("an admin's other pages: users, a profile, the referral tree, notifications, time to KYC", async () => {
  const page = await newPage();
  await signedIn(page, ADMIN.email, ADMIN.password);
  assert.deepEqual(await page.locator("nav#nav a").allInnerTexts(), ["Overview", "Onboarding", "Retention", "Funnels", "Referrals", "Experiments", "Rewards", "Users", "Notifications", "API keys", "Webhooks"]);

  await open(page, "users");
  await page.getByTestId("users").waitFor();
  assert.equal(await page.locator('[data-testid="users"] tbody tr').count(), 15);
  await page.getByLabel(/Find by name/).fill("ada");
  assert.equal(await page.locator('[data-testid="users"] tbody tr').count(), 1);
  await shot(page, "users");

  await open(page, `users/${fixture.ada.id}`);
  await page.getByRole("heading", { name: "Ada Obi" }).waitFor();
  await page.getByRole("button", { name: "Block" }).click();
  await page.getByRole("button", { name: "Yes, block" }).click();
  await page.getByTestId("blocked-banner").waitFor();
  await page.getByRole("button", { name: "Unblock" }).click();
  await page.getByTestId("blocked-banner").waitFor({ state: "detached" });
  await shot(page, "user-profile");

  await page.getByRole("link", { name: "Referral tree" }).click();
  const tree = page.getByTestId("referral-tree");
  await tree.waitFor();
  assert.equal(await tree.locator('li[role="treeitem"]').count(), 5); // Ada and the four she referred
  await page.getByRole("button", { name: "Collapse Ada Obi" }).click();
  assert.equal(await tree.locator('li[role="treeitem"]').count(), 1);
  await page.getByRole("button", { name: "Expand Ada Obi" }).click();
  await shot(page, "referral-tree");

  await open(page, `notifications?to=${fixture.ada.id}`);
  await page.getByLabel("Title").fill("Your reward is on its way");
  await page.getByLabel("Message").fill("Thanks for bringing your friends.");
  await page.getByRole("button", { name: "Send", exact: true }).click();
  await page.getByTestId("sent").waitFor();
  assert.equal(await page.getByTestId("sent").innerText(), "Queued for 1 user.");
  await shot(page, "notifications");

  await open(page, "onboarding");
  await page.getByTestId("time-to-kyc").waitFor();
  assert.match(await page.getByTestId("time-to-kyc").innerText(), /Completed KYC\s+3/);
  await shot(page, "onboarding-admin");

  // Signing out ends the session the cookie held, and clears it.
  const [held] = await page.context().cookies();
  assert.equal(held.name, "growstack_refresh");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("button", { name: "Sign in" }).waitFor();
  assert.equal(await page.evaluate(() => localStorage.length), 0);
  assert.deepEqual(await page.context().cookies(), [], "signing out clears the cookie");
  const again = await fetch(`${BASE}/api/auth/refresh-token`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-growstack-session": "cookie", cookie: `growstack_refresh=${held.value}` },
    body: "{}",
  });
  assert.equal(again.status, 401);
  await page.context().close();
});

test("an admin makes an API key, sees its secret once, and revokes it", async () => {
  const page = await newPage();
  await signedIn(page, ADMIN.email, ADMIN.password);
  await open(page, "api-keys");
  await page.getByLabel("Name").fill("core banking payouts");
  // No scope: the API's validation, at the scopes.
  await page.getByRole("button", { name: "Create key" }).click();
  await page.locator("#key-scopes-error").waitFor();
  await page.getByLabel(/rewards:read/).check();
  await page.getByRole("button", { name: "Create key" }).click();
  const secret = await page.getByTestId("new-key-secret").innerText();
  assert.match(secret, /^gs_[A-Za-z0-9_-]{43}$/);
  const row = page.locator(`[data-testid="api-keys"] tr[data-key="${secret.slice(0, 11)}"]`);
  await row.waitFor();
  assert.equal(await row.getAttribute("data-revoked"), "false");
  await shot(page, "api-keys");

  // The key works where its scope does, as the operator's server would call it.
  const ledger = () => fetch(`${BASE}/api/admin/rewards?status=available`, { headers: { authorization: `Bearer ${secret}` } });
  assert.equal((await ledger()).status, 200);
  // Once dismissed, the secret is gone from the page.
  await page.getByRole("button", { name: "Done" }).click();
  assert.equal(await page.getByTestId("new-key").count(), 0);
  assert.doesNotMatch(await page.content(), new RegExp(secret.slice(11)));

  await row.getByRole("button", { name: "Revoke" }).click();
  await row.getByRole("button", { name: "Yes, revoke" }).click();
  await page.locator(`[data-testid="api-keys"] tr[data-key="${secret.slice(0, 11)}"][data-revoked="true"]`).waitFor();
  assert.equal((await ledger()).status, 401);
  await page.context().close();
});

test("an admin adds a webhook endpoint, sends it a signed test, and redelivers it", async () => {
  // The operator's receiver: records each request, answers 204.
  const received = [];
  const receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      received.push({ signature: req.headers["x-growstack-signature"], body });
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${receiver.address().port}/hooks`;
  const waitFor = async (n) => {
    for (let i = 0; i < 100 && received.length < n; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(received.length, n);
  };

  const page = await newPage();
  await signedIn(page, ADMIN.email, ADMIN.password);
  await open(page, "webhooks");
  await page.getByLabel("URL").fill(url);
  await page.getByRole("button", { name: "Add endpoint" }).click();
  await page.locator("#hook-events-error").waitFor();
  await page.getByLabel(/reward\.paid/).check();
  await page.getByRole("button", { name: "Add endpoint" }).click();
  const secret = await page.getByTestId("new-webhook-secret").innerText();
  assert.match(secret, /^whsec_/);
  await page.getByRole("button", { name: "Done" }).click();

  await page.getByRole("button", { name: "Send test" }).click();
  await waitFor(1);
  const [t, v1] = received[0].signature.split(",").map((p) => p.split("=")[1]);
  assert.equal(v1, createHmac("sha256", secret).update(`${t}.${received[0].body}`).digest("hex"), "signed with the secret shown");
  assert.equal(JSON.parse(received[0].body).type, "webhook.test");

  await page.getByRole("button", { name: "Deliveries" }).click();
  const row = page.locator('[data-testid="webhook-deliveries"] tr[data-type="webhook.test"]');
  await row.waitFor();
  for (let i = 0; i < 50 && (await row.getAttribute("data-status")) !== "delivered"; i++) {
    await page.getByRole("button", { name: "Refresh" }).click();
    await page.waitForTimeout(100);
  }
  assert.equal(await row.getAttribute("data-status"), "delivered");
  await shot(page, "webhooks");
  await row.getByRole("button", { name: "Redeliver" }).click();
  await waitFor(2);
  assert.equal(JSON.parse(received[1].body).id, JSON.parse(received[0].body).id, "the same event again");
  receiver.close();
  await page.context().close();
});
