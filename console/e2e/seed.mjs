// Seeds the e2e fixture through the API (and, for the broken split only, straight into
// experiment_exposures with psql), then prints what the tests need to find it (ids, emails,
// passwords) as JSON. The numbers the tests assert are written down in console.test.mjs,
// not read from here.
//
// Env: CONSOLE_BASE_URL, CONSOLE_ADMIN_EMAIL, CONSOLE_ADMIN_PASSWORD, KYC_WEBHOOK_SECRET,
// DATABASE_URL, AWS_ENDPOINT_URL (moto, where the verification emails land).

import { createHmac } from "node:crypto";
import { execFileSync } from "node:child_process";

const BASE = process.env.CONSOLE_BASE_URL;
const RUN = Date.now().toString(36); // moto keeps mail across runs: addresses are per run
const PASSWORD = "console-e2e-password";
const HOUR = 3_600_000;
const T0 = Date.now() - 3 * 24 * HOUR; // the funnel's events happen three days ago

async function call(method, path, { token, body, headers = {} } = {}) {
  const res = await fetch(BASE + path, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const json = await res.json();
  if (!json.success) throw new Error(`${method} ${path} → ${res.status} ${JSON.stringify(json.error)}`);
  return json.data;
}

let phone = 2348100000000 + (Date.now() % 1_000_000) * 10;
async function register(first, last, referralCode) {
  const email = `${first.toLowerCase()}.${RUN}@console.test`;
  const body = { email, password: PASSWORD, firstName: first, lastName: last, phone: `+${phone++}`, ...(referralCode ? { referralCode } : {}) };
  const d = await call("POST", "/api/auth/register", { body });
  return { id: d.user.id, email, token: d.accessToken, name: `${first} ${last}` };
}

const track = (user, eventName, at) => call("POST", "/api/events/track", { token: user.token, body: { eventName, ...(at ? { timestamp: new Date(at).toISOString() } : {}) } });

/** The provider's signed callback: KYC passed. */
async function kycPassed(user) {
  const body = JSON.stringify({ eventId: `evt_${user.id}`, userId: user.id, status: "successful", reference: `ref-${user.id}`, occurredAt: new Date().toISOString(), identityRef: `bvn-sha256:${user.id}` });
  const t = Math.floor(Date.now() / 1000);
  const sig = createHmac("sha256", process.env.KYC_WEBHOOK_SECRET).update(`${t}.${body}`).digest("hex");
  await call("POST", "/api/webhooks/kyc", { body, headers: { "x-growstack-signature": `t=${t},v1=${sig}` } });
}

/** Follows the link of the verification email each user was sent (read from moto's SES). */
async function verifyEmails(users) {
  const pending = new Map(users.map((u) => [u.email, u]));
  for (let attempt = 0; pending.size && attempt < 60; attempt++) {
    const data = await (await fetch(`${process.env.AWS_ENDPOINT_URL}/moto-api/data.json`)).json();
    for (const m of data.ses?.Message ?? []) {
      const to = m.destinations?.ToAddresses?.[0];
      const token = /verify-email\?token=([^"&\s<]+)/.exec(m.body ?? "")?.[1];
      if (token && pending.has(to)) {
        await call("POST", "/api/auth/verify-email", { body: { token: decodeURIComponent(token) } });
        pending.delete(to);
      }
    }
    if (pending.size) await new Promise((r) => setTimeout(r, 500));
  }
  if (pending.size) throw new Error(`no verification email for ${[...pending.keys()].join(", ")}`);
}

function psql(sql) {
  execFileSync("psql", [process.env.DATABASE_URL, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql], { stdio: ["ignore", "ignore", "inherit"] });
}

const admin = await call("POST", "/api/auth/login", { body: { email: process.env.CONSOLE_ADMIN_EMAIL, password: process.env.CONSOLE_ADMIN_PASSWORD } });
const adminToken = admin.accessToken;

// Staff, and a plain user who must be refused.
const analyst = await register("Ana", "Lyst");
const marketer = await register("Mark", "Eter");
const plain = await register("Pat", "Plain");
await call("PATCH", `/api/users/${analyst.id}/role`, { token: adminToken, body: { role: "analyst" } });
await call("PATCH", `/api/users/${marketer.id}/role`, { token: adminToken, body: { role: "marketer" } });
// A role change ends the sessions it had.
for (const u of [analyst, marketer]) u.token = (await call("POST", "/api/auth/login", { body: { email: u.email, password: PASSWORD } })).accessToken;

// Ten customers; Ada referred the next four. Gbenga referred Kemi, found fraudulent.
const ada = await register("Ada", "Obi");
const { code: adaCode } = await call("GET", "/api/referrals/code", { token: ada.token });
const referred = [];
for (const [first, last] of [["Bola", "Ade"], ["Chidi", "Eze"], ["Dayo", "Bello"], ["Emeka", "Nwosu"]]) referred.push(await register(first, last, adaCode));
const organic = [];
for (const [first, last] of [["Funke", "Ojo"], ["Gbenga", "Ola"], ["Halima", "Musa"], ["Ifeoma", "Uche"], ["Jide", "Kalu"]]) organic.push(await register(first, last));
const customers = [ada, ...referred, ...organic]; // ten
const gbenga = organic[1];
const { code: gbengaCode } = await call("GET", "/api/referrals/code", { token: gbenga.token });
const kemi = await register("Kemi", "Lawal", gbengaCode);

// The funnel: app_opened 10 → deposit_started 6 → deposit_completed 3, an hour apart.
// Referred (Bola, Chidi, Dayo, Emeka): 4 → 4 → 2; organic: 6 → 2 → 1.
for (const u of customers) await track(u, "app_opened", T0);
for (const u of customers.slice(0, 6)) await track(u, "deposit_started", T0 + HOUR);
for (const u of customers.slice(0, 3)) await track(u, "deposit_completed", T0 + 2 * HOUR);

// Onboarding: Ada and three she referred verify their address; Bola, Chidi and Dayo pass
// KYC, which completes their referrals (and writes their own 250.00 reward each).
await verifyEmails([ada, ...referred.slice(0, 3)]);
for (const u of [...organic.slice(0, 3)]) await call("POST", "/api/onboarding/step", { token: u.token, body: { step: "phone" } });
for (const u of referred.slice(0, 3)) await kycPassed(u);
// Ada claims Bola's referral: rewarded, with her own 500.00 reward.
const { referrals: adaReferrals } = await call("GET", "/api/referrals?limit=100", { token: ada.token });
const bolaReferral = adaReferrals.find((r) => r.referredUserId === referred[0].id);
await call("POST", "/api/referrals/claim-reward", { token: ada.token, body: { referralId: bolaReferral.id } });
// Kemi's referral is failed by an admin.
const { referrals: gbengaReferrals } = await call("GET", "/api/referrals?limit=100", { token: gbenga.token });
await call("PATCH", `/api/admin/referrals/${gbengaReferrals[0].id}`, { token: adminToken, body: { status: "failed", reason: "same device as the referrer" } });

// A healthy experiment: everyone but the admin is exposed through the API; five convert.
const marketerToken = marketer.token;
const banner = (
  await call("POST", "/api/experiments", {
    token: marketerToken,
    body: { key: `onboarding-banner-${RUN}`, name: "Onboarding banner", variants: [{ name: "control", weight: 50 }, { name: "banner", weight: 50 }], metric: { eventName: "banner_clicked", windowHours: 24 } },
  })
).experiment;
await call("PATCH", `/api/experiments/${banner.id}`, { token: marketerToken, body: { status: "active" } });
const everyone = [analyst, marketer, plain, ...customers, kemi]; // fourteen
for (const u of everyone) await call("GET", `/api/experiments/${banner.id}/assignment`, { token: u.token });
for (const u of customers.slice(0, 5)) await track(u, "banner_clicked");

// A broken split: planned 10 / 90, logged 13 / 1 (written straight into the exposures, as a
// broken assignment or logging path would).
const pricing = (
  await call("POST", "/api/experiments", {
    token: marketerToken,
    body: { key: `pricing-page-${RUN}`, name: "Pricing page", variants: [{ name: "control", weight: 10 }, { name: "annual-first", weight: 90 }], metric: { eventName: "deposit_completed" } },
  })
).experiment;
await call("PATCH", `/api/experiments/${pricing.id}`, { token: marketerToken, body: { status: "active" } });
const rows = everyone.map((u, i) => `('${pricing.id}', '${u.id}', '${i < 13 ? "control" : "annual-first"}')`).join(", ");
psql(`INSERT INTO experiment_exposures (experiment_id, user_id, variant) VALUES ${rows}`);

console.log(
  JSON.stringify(
    {
      password: PASSWORD,
      analyst: analyst.email,
      marketer: marketer.email,
      plain: plain.email,
      ada: { id: ada.id, email: ada.email },
      experiments: { banner: banner.id, pricing: pricing.id },
      run: RUN,
    },
    null,
    2,
  ),
);
