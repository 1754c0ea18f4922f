// The web page in a real browser: Debian's headless Chromium (/usr/bin/chromium) driven by playwright-core,
// against the real system behind Envoy. Run by tests/web/test_web_page.py, which starts the system and makes
// the member; usable by hand too:
//
//   WEB_URL=http://127.0.0.1:8080/ BANKING_ID=... PASSWORD=... EXPECTED_BALANCE=1000 ACCOUNT_NUMBER=... \
//     SCREENSHOT=docs/web-page.png node tests/web/e2e.mjs
//
// Prints one "ok <check>" line per check and "E2E PASSED <n> checks" at the end; exits 1 on the first failure.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === "") throw new Error(`${name} is not set`);
  return value;
};
const URL_ = env("WEB_URL");
const BANKING_ID = env("BANKING_ID");
const PASSWORD = env("PASSWORD");
const EXPECTED_BALANCE = BigInt(env("EXPECTED_BALANCE"));
const ACCOUNT_NUMBER = env("ACCOUNT_NUMBER");
const SCREENSHOT = env("SCREENSHOT", "docs/web-page.png");
const CHROMIUM = env("CHROMIUM", "/usr/bin/chromium");
const TIMEOUT = 20_000;

const KO_FAILED = "로그인할 수 없습니다. 뱅킹 ID와 비밀번호를 확인해 주세요.";
const EN_FAILED = "Sign-in failed. Check your banking ID and password.";

let checks = 0;
function ok(what) {
  checks += 1;
  console.log(`ok ${what}`);
}
function expect(condition, what, detail = "") {
  if (!condition) throw new Error(`FAILED ${what}${detail ? `: ${detail}` : ""}`);
  ok(what);
}

const origin = new URL(URL_).origin;
const userDataDir = mkdtempSync(join(tmpdir(), "bank-web-e2e-"));
// As the machine notes say: headless, no sandbox (root), and no background traffic to Google's hosts.
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: CHROMIUM,
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
  locale: "ko-KR", // navigator.language: the page starts in Korean
  timezoneId: "Asia/Seoul",
  viewport: { width: 900, height: 640 },
});

const problems = []; // console errors (a CSP violation is one), page errors, requests to another origin
const seen = []; // [method, path, status] of the API calls the page made
let exitCode = 0;
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(TIMEOUT);
  page.on("console", (m) => {
    // a 4xx the page handles is logged by Chromium as "Failed to load resource"; anything else is a problem
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("request", (r) => {
    if (!r.url().startsWith(origin) && !r.url().startsWith("data:")) problems.push(`other origin: ${r.url()}`);
  });
  page.on("response", (r) => {
    const path = new URL(r.url()).pathname;
    if (path.startsWith("/v1/")) seen.push([r.request().method(), path, r.status()]);
  });

  const message = page.getByTestId("message");
  const messageKey = () => message.getAttribute("data-key");
  // The answer to a login: the key of the message it left (or "accounts" once the accounts are shown).
  async function submitLogin(password) {
    await page.getByLabel("뱅킹 ID").fill(BANKING_ID);
    await page.getByLabel("비밀번호").fill(password);
    for (let attempt = 0; attempt < 5; attempt += 1) {
      await page.getByLabel("비밀번호").press("Enter"); // the keyboard submits the form
      await page.waitForFunction(
        () => {
          const key = document.getElementById("message").dataset.key;
          return key && key !== "signingIn" && key !== "loading";
        },
        null,
        { timeout: TIMEOUT },
      );
      const key = await messageKey();
      if (key !== "retryIn") return key;
      // the member service throttles guesses per banking id: wait what the page says, then again
      const text = await message.textContent();
      const seconds = Number((text.match(/\d+/) || ["1"])[0]);
      ok(`login throttled, the page says: ${text}`);
      await page.waitForTimeout(seconds * 1000 + 200);
      await page.getByLabel("비밀번호").fill(password);
    }
    throw new Error("FAILED login: still throttled after 5 attempts");
  }

  // --- the page itself -----------------------------------------------------------------------------------------
  const response = await page.goto(URL_, { waitUntil: "domcontentloaded" });
  expect(response.status() === 200, "GET / is 200");
  const csp = response.headers()["content-security-policy"] || "";
  expect(csp.includes("default-src 'self'") && csp.includes("frame-ancestors 'none'"), "CSP header on the page", csp);
  expect((await page.locator("html").getAttribute("lang")) === "ko", "lang=ko from navigator.language (ko-KR)");
  await page.getByRole("heading", { name: "로그인" }).waitFor();
  expect(
    (await page.evaluate(() => document.activeElement && document.activeElement.id)) === "banking-id",
    "focus starts in the banking id field",
  );
  expect(
    (await page.getByLabel("뱅킹 ID").getAttribute("autocomplete")) === "username" &&
      (await page.getByLabel("비밀번호").getAttribute("autocomplete")) === "current-password",
    "labelled fields with autocomplete attributes",
  );
  expect((await message.getAttribute("aria-live")) === "polite", "messages in an aria-live region");

  // --- wrong password: the one generic message ----------------------------------------------------------------
  const wrong = await submitLogin(`${PASSWORD}-wrong`);
  expect(wrong === "loginFailed", "wrong password answers the generic message", wrong);
  expect((await message.textContent()) === KO_FAILED, "generic message in Korean", await message.textContent());
  expect(seen.some(([m, p, s]) => m === "POST" && p === "/v1/login" && s === 401), "the API answered 401");
  expect(
    (await page.evaluate(() => document.activeElement && document.activeElement.id)) === "password",
    "focus back on the password field",
  );

  // --- the right password: my accounts -------------------------------------------------------------------------
  const right = await submitLogin(PASSWORD);
  expect(right === "loaded", "login with the right password loads the accounts", right);
  await page.getByRole("heading", { name: "계좌와 잔액" }).waitFor();
  expect(
    (await page.evaluate(() => document.activeElement && document.activeElement.id)) === "accounts-heading",
    "focus moves to the accounts heading",
  );
  const row = page.locator(`tr[data-account-number="${ACCOUNT_NUMBER}"]`);
  const koBalance = `${new Intl.NumberFormat("ko-KR").format(EXPECTED_BALANCE)}원`;
  const balanceKo = (await row.getByTestId("balance").textContent()).trim();
  expect(balanceKo === koBalance, `balance of ${ACCOUNT_NUMBER} is ${koBalance}`, balanceKo);
  const asOf = await row.locator("time").getAttribute("datetime");
  expect(Boolean(asOf) && !Number.isNaN(Date.parse(asOf)), "the account shows its asOf", asOf);
  expect(await page.locator("#login-view").isHidden(), "the login form is gone");

  // --- the token stays in memory --------------------------------------------------------------------------------
  const stored = await page.evaluate(() => ({
    local: localStorage.length,
    session: sessionStorage.length,
    cookie: document.cookie,
  }));
  const cookies = await context.cookies();
  expect(
    stored.local === 0 && stored.session === 0 && stored.cookie === "" && cookies.length === 0,
    "no token in localStorage, sessionStorage or cookies",
    JSON.stringify({ ...stored, cookies: cookies.length }),
  );

  // --- language switch ------------------------------------------------------------------------------------------
  await page.getByLabel("언어").selectOption("en");
  expect((await page.locator("html").getAttribute("lang")) === "en", "lang=en after the switch");
  await page.getByRole("heading", { name: "Accounts and balances" }).waitFor();
  const enBalance = new Intl.NumberFormat("en-US", { style: "currency", currency: "KRW" }).format(EXPECTED_BALANCE);
  const balanceEn = (await row.getByTestId("balance").textContent()).trim();
  expect(balanceEn === enBalance, `balance in English is ${enBalance}`, balanceEn);
  expect((await page.getByRole("button", { name: "Sign out" }).count()) === 1, "buttons in English");
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  ok(`screenshot ${SCREENSHOT}`);

  // --- sign out -----------------------------------------------------------------------------------------------------
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  expect(seen.some(([m, p, s]) => m === "POST" && p === "/v1/logout" && s === 200), "POST /v1/logout answered 200");
  expect((await message.textContent()) === "You have signed out.", "signed-out message");
  expect(await page.locator("#accounts-view").isHidden(), "back to the form");
  expect((await page.locator("#accounts-body tr").count()) === 0, "the accounts are forgotten");
  expect(
    (await page.evaluate(() => document.activeElement && document.activeElement.id)) === "banking-id",
    "focus back in the banking id field",
  );

  // --- answers the real system does not give on demand, played by the browser (page.route) ---------------------
  // overload: HTTP 429 + Retry-After (Envoy's rate limit), and RESOURCE_EXHAUSTED with a google.rpc.RetryInfo
  await page.route("**/v1/login", (route) =>
    route.fulfill({ status: 429, headers: { "retry-after": "7", "content-type": "text/plain" }, body: "busy" }),
  );
  await page.getByLabel("Banking ID").fill(BANKING_ID);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForFunction(() => document.getElementById("message").dataset.key === "retryIn");
  expect((await message.textContent()) === "Please try again in 7 seconds", "429 + Retry-After: the seconds shown");
  await page.unroute("**/v1/login");
  await page.route("**/v1/login", (route) =>
    route.fulfill({
      status: 429,
      contentType: "application/json",
      body: JSON.stringify({
        code: 8,
        message: "overloaded",
        details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "3s" }],
      }),
    }),
  );
  await page.getByLabel("Language").selectOption("ko");
  await page.getByLabel("비밀번호").fill(PASSWORD);
  await page.getByRole("button", { name: "로그인" }).click();
  await page.waitForFunction(() => /\(3/.test(document.getElementById("message").textContent));
  expect((await message.textContent()) === "잠시 후 다시 시도해 주세요 (3초)", "RetryInfo: the seconds shown");
  await page.unroute("**/v1/login");

  // stale view: "잔액은 HH:MM 기준" (Asia/Seoul: 03:04Z is 12:04)
  await page.route("**/v1/login", (route) =>
    route.fulfill({ status: 200, contentType: "application/json", body: '{"accessToken":"played","refreshToken":""}' }),
  );
  await page.route("**/v1/my/accounts", (route) =>
    route.fulfill({
      status: 200,
      contentType: "application/json",
      body: JSON.stringify({
        accounts: [
          {
            accountNumber: "1100000000001",
            productCode: "SAVINGS",
            balance: "9007199254740993",
            sequence: "2",
            asOf: "2026-01-02T03:04:05Z",
          },
        ],
        stale: true,
        viewAsOf: "2026-01-02T03:04:05Z",
      }),
    }),
  );
  await page.route("**/v1/logout", (route) => route.fulfill({ status: 200, contentType: "application/json", body: "{}" }));
  await page.getByLabel("비밀번호").fill(PASSWORD);
  await page.getByRole("button", { name: "로그인" }).click();
  const stale = page.getByTestId("stale");
  await stale.waitFor();
  expect((await stale.textContent()) === "잔액은 12:04 기준", "stale: 잔액은 HH:MM 기준", await stale.textContent());
  expect(
    (await page.getByTestId("balance").first().textContent()).trim() === "9,007,199,254,740,993원",
    "int64 balances keep every digit",
  );
  await page.getByLabel("언어").selectOption("en");
  expect((await stale.textContent()) === "Balances as of 12:04", "stale in English", await stale.textContent());
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await page.unrouteAll();

  expect(problems.length === 0, "no console error, CSP violation or other-origin request", problems.join("; "));
  console.log(`E2E PASSED ${checks} checks`);
} catch (error) {
  console.log(String(error && error.stack ? error.stack : error));
  if (problems.length) console.log(`problems: ${problems.join("; ")}`);
  console.log(`api calls: ${JSON.stringify(seen)}`);
  console.log("E2E FAILED");
  exitCode = 1;
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
process.exit(exitCode);
