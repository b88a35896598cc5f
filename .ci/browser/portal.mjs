// The portal in a real browser: Debian's Chromium, headless, driven by playwright-core, with
// the DevTools virtual WebAuthn authenticators. Registers a security key (usb) and a biometric
// key (internal) through the real pages, logs out and logs in with each, then changes the
// email address on the settings page. Screenshots of the key pages go to $SCREENSHOTS.
import { chromium } from "playwright-core";
import { mkdtempSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const base = process.env.PORTAL_URL;
const shots = process.env.SCREENSHOTS;
const newEmail = process.env.NEW_EMAIL;
const maildir = process.env.MAILDIR;
mkdirSync(shots, { recursive: true });
const email = "browser@example.com";
const password = "correct horse battery staple";

const profile = mkdtempSync(join(tmpdir(), "mfa-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  headless: true,
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
  locale: "en-US",
});
context.setDefaultTimeout(20000);
const page = context.pages()[0] || await context.newPage();
const errors = [];
page.on("pageerror", (e) => errors.push(String(e)));
page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });

const cdp = await context.newCDPSession(page);
await cdp.send("WebAuthn.enable");
const authenticator = async (transport) => (await cdp.send("WebAuthn.addVirtualAuthenticator", {
  options: { protocol: "ctap2", ctap2Version: "ctap2_1", transport, hasResidentKey: true, hasUserVerification: true,
             isUserVerified: true, automaticPresenceSimulation: true },
})).authenticatorId;
const usb = await authenticator("usb");
const internal = await authenticator("internal");
const presence = (id, enabled) => cdp.send("WebAuthn.setAutomaticPresenceSimulation", { authenticatorId: id, enabled });
const signCount = async (id) => {
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId: id });
  if (credentials.length !== 1) throw new Error(`expected one credential on ${id}, found ${credentials.length}`);
  return credentials[0].signCount;
};

async function submit(selector) {
  await page.locator(`${selector} button`).first().click();
}

async function login() {
  await page.goto(`${base}/login`);
  await page.fill("input[name=identifier]", email);
  await page.fill("input[name=password]", password);
  await submit("form[data-api='/api/login']");
}

function step(name) { console.log(`browser: ${name}`); }

// The code of the sign-up confirmation that reached the SMTP server for `to`.
async function mailedCode(to) {
  for (let i = 0; i < 100; i++) {
    for (const f of readdirSync(join(maildir, "new"))) {
      const m = readFileSync(join(maildir, "new", f), "utf8").replace(/=\r?\n/g, "");
      const code = m.includes(`To: ${to}`) && m.match(/<strong>(\d{6})<\/strong>/);
      if (code) return code[1];
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no confirmation code reached ${to}`);
}

// Sign up, log in: the portal requires a second factor, so it sends us to enroll one.
await page.goto(`${base}/signup`);
await page.fill("input[name=email]", email);
await page.fill("input[name=password]", password);
await submit("form[data-api='/api/signup']");
// The address is confirmed with the mailed code, typed in the same page.
await page.locator("form[data-signup-code]").waitFor({ state: "visible" });
await page.fill("input[name=code]", await mailedCode(email));
await page.screenshot({ path: join(shots, "00-confirm-address.png"), fullPage: true });
await submit("form[data-signup-code]");
await page.waitForURL(`${base}/login`);
if (!(await page.locator(".message").isVisible())) throw new Error("the login page does not say the address is confirmed");
step("signed up; address confirmed with the mailed code");
await login();
await page.waitForURL(`${base}/mfa`);
await page.screenshot({ path: join(shots, "01-forced-enrollment.png"), fullPage: true });
if (!(await page.locator("s").first().isVisible())) throw new Error("the SMS row is not struck out");
step("forced to enroll; SMS struck out");

// Register a security key (cross-platform: the usb authenticator answers).
await page.goto(`${base}/mfa/key?kind=security_key`);
await page.fill("input[name=name]", "YubiKey");
await page.screenshot({ path: join(shots, "02-security-key.png"), fullPage: true });
await submit("form[data-webauthn-register]");
await page.waitForURL(`${base}/recovery`);
if ((await page.locator("ol.codes li").count()) !== 10) throw new Error("ten recovery codes expected");
for (const name of ["Copy", "Download"]) {
  if ((await page.getByRole("button", { name }).count()) !== 1) throw new Error(`the recovery codes page lacks "${name}"`);
}
await page.screenshot({ path: join(shots, "03-recovery-codes.png"), fullPage: true });
step("security key registered; recovery codes shown");

// Register a biometric key (platform: the internal authenticator answers).
await page.goto(`${base}/mfa/key?kind=biometric_key`);
await page.fill("input[name=name]", "This device");
await submit("form[data-webauthn-register]");
await page.waitForURL(`${base}/mfa`);
await page.screenshot({ path: join(shots, "04-methods.png"), fullPage: true });
const methods = await page.textContent("ul.methods");
if (!methods.includes("YubiKey") || !methods.includes("This device")) throw new Error(`both keys should be listed: ${methods}`);
// Buttons say what they do to what (accessible names).
for (const name of ["Remove YubiKey", "Remove This device", "Add phone number"]) {
  if ((await page.getByRole("button", { name, exact: true }).count()) !== 1) throw new Error(`no button named "${name}"`);
}
if ((await page.getByRole("link", { name: "Add security key", exact: true }).count()) !== 1) throw new Error("no link named \"Add security key\"");
step("biometric key registered");

// Log out; log in with the security key only.
for (const [name, use, idle] of [["security key", usb, internal], ["biometric key", internal, usb]]) {
  await page.locator("[data-action=logout]").click();
  await page.waitForURL(`${base}/login`);
  await presence(idle, false);
  await presence(use, true);
  const before = await signCount(use);
  await login();
  await page.waitForURL(`${base}/factor`);
  await page.screenshot({ path: join(shots, `05-second-factor-${use === usb ? "usb" : "internal"}.png`), fullPage: true });
  await page.locator("[data-action=webauthn-login]").click();
  await page.waitForURL(`${base}/settings`);
  const after = await signCount(use);
  if (!(after > before)) throw new Error(`${name}: the counter did not rise (${before} → ${after})`);
  step(`logged in with the ${name} (counter ${before} → ${after})`);
}
await presence(usb, true);
await page.screenshot({ path: join(shots, "06-settings.png"), fullPage: true });

// The settings page lists the signed-in browsers, this one marked.
if (!(await page.textContent("ul.sessions")).includes("This browser")) throw new Error("the sessions list lacks this browser");
step("sessions listed");

// Change the email address on the settings page (the session's second factor is fresh; the
// current password is asked again).
await page.fill("form[data-api='/api/settings/email'] input[name=email]", newEmail);
await page.fill("form[data-api='/api/settings/email'] input[name=current_password]", password);
await submit("form[data-api='/api/settings/email']");
await page.locator(".message").waitFor({ state: "visible" });
await page.screenshot({ path: join(shots, "07-email-changed.png"), fullPage: true });
step(`email changed: ${await page.textContent(".message")}`);

// The same pages in Japanese.
await page.goto(`${base}/mfa`);
await page.locator("a[data-lang]").click();
await page.waitForURL(`${base}/mfa`);
const ja = await page.textContent("main");
if (!ja.includes("仕様変更のため、SMS 認証はご利用いただけなくなりました。")) throw new Error("the Japanese methods list lacks the SMS notice");
await page.screenshot({ path: join(shots, "08-methods-ja.png"), fullPage: true });
step("the methods list in Japanese");

await context.close();
if (errors.length) {
  console.error(`browser: errors on the pages:\n${errors.join("\n")}`);
  process.exit(1);
}
