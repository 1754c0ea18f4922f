// The login + my-accounts page. Plain JavaScript, no build step, no framework, nothing from another origin: it
// calls the gateway's public REST API (POST /v1/login, GET /v1/my/accounts, POST /v1/tokens:refresh,
// POST /v1/logout) like any other client. Tokens live in this closure only: never localStorage,
// sessionStorage or a cookie, so a reload (or closing the tab) signs out.
"use strict";

(() => {
  const TEXT = {
    ko: {
      pageTitle: "내 계좌 · Bank",
      skip: "본문으로 건너뛰기",
      brand: "뱅킹",
      language: "언어",
      title: "내 계좌",
      loginHeading: "로그인",
      bankingId: "뱅킹 ID",
      password: "비밀번호",
      login: "로그인",
      accountsHeading: "계좌와 잔액",
      accountsCaption: "내 계좌 목록",
      accountNumber: "계좌번호",
      product: "상품",
      balance: "잔액",
      asOf: "기준 시각",
      noAccounts: "계좌가 없습니다.",
      reload: "새로 고침",
      logout: "로그아웃",
      signingIn: "로그인 중…",
      loading: "계좌를 불러오는 중…",
      loaded: "계좌 {n}개를 불러왔습니다.",
      missing: "뱅킹 ID와 비밀번호를 입력해 주세요.",
      // one message for every refusal of a login: wrong password, unknown id, locked, suspended
      loginFailed: "로그인할 수 없습니다. 뱅킹 ID와 비밀번호를 확인해 주세요.",
      retryIn: "잠시 후 다시 시도해 주세요 ({n}초)",
      stale: "잔액은 {time} 기준",
      signedOut: "로그아웃했습니다.",
      sessionEnded: "세션이 끝났습니다. 다시 로그인해 주세요.",
      failed: "요청을 처리하지 못했습니다. 잠시 후 다시 시도해 주세요.",
      products: { SAVINGS: "저축예금", CHECKING: "입출금통장" },
      money: (amount) => `${new Intl.NumberFormat("ko-KR").format(amount)}원`,
      locale: "ko-KR",
    },
    en: {
      pageTitle: "My accounts · Bank",
      skip: "Skip to main content",
      brand: "Banking",
      language: "Language",
      title: "My accounts",
      loginHeading: "Sign in",
      bankingId: "Banking ID",
      password: "Password",
      login: "Sign in",
      accountsHeading: "Accounts and balances",
      accountsCaption: "My accounts",
      accountNumber: "Account number",
      product: "Product",
      balance: "Balance",
      asOf: "As of",
      noAccounts: "You have no accounts.",
      reload: "Reload",
      logout: "Sign out",
      signingIn: "Signing in…",
      loading: "Loading your accounts…",
      loaded: "{n} account(s) loaded.",
      missing: "Enter your banking ID and password.",
      loginFailed: "Sign-in failed. Check your banking ID and password.",
      retryIn: "Please try again in {n} seconds",
      stale: "Balances as of {time}",
      signedOut: "You have signed out.",
      sessionEnded: "Your session has ended. Please sign in again.",
      failed: "Something went wrong. Please try again in a moment.",
      products: { SAVINGS: "Savings", CHECKING: "Checking" },
      money: (amount) =>
        new Intl.NumberFormat("en-US", { style: "currency", currency: "KRW", currencyDisplay: "symbol" }).format(
          amount,
        ),
      locale: "en-US",
    },
  };

  // --- state: in memory only ----------------------------------------------------------------------------------
  let language = (navigator.language || "").toLowerCase().startsWith("ko") ? "ko" : "en";
  let session = null; // { accessToken, refreshToken }
  let accounts = null; // the last ListMyAccounts answer
  let message = null; // { key, params } of what the live region says, re-rendered on a language switch

  const $ = (id) => document.getElementById(id);
  const t = (key, params = {}) =>
    String(TEXT[language][key]).replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : ""));

  // --- rendering --------------------------------------------------------------------------------------------------
  function say(key, params = {}, kind = "info") {
    message = key ? { key, params, kind } : null;
    const region = $("message");
    region.textContent = key ? t(key, params) : "";
    region.dataset.kind = key ? kind : "";
    region.dataset.key = key || "";
  }

  function applyLanguage() {
    document.documentElement.lang = language;
    document.title = t("pageTitle");
    $("language").value = language;
    for (const element of document.querySelectorAll("[data-i18n]")) {
      element.textContent = t(element.dataset.i18n);
    }
    if (message) say(message.key, message.params, message.kind);
    if (accounts) renderAccounts();
  }

  function hhmm(date) {
    return new Intl.DateTimeFormat(TEXT[language].locale, {
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    }).format(date);
  }

  function dateTime(date) {
    return new Intl.DateTimeFormat(TEXT[language].locale, { dateStyle: "medium", timeStyle: "short" }).format(date);
  }

  function amount(value) {
    try {
      return TEXT[language].money(BigInt(value || "0")); // int64 arrives as a string: no precision lost
    } catch {
      return String(value);
    }
  }

  function cell(row, text, className) {
    const td = document.createElement("td");
    if (className) td.className = className;
    if (text instanceof Node) td.append(text);
    else td.textContent = text;
    row.append(td);
    return td;
  }

  function renderAccounts() {
    const body = $("accounts-body");
    body.replaceChildren();
    const list = accounts.accounts || [];
    for (const account of list) {
      const row = document.createElement("tr");
      row.dataset.accountNumber = account.accountNumber;
      const number = document.createElement("th");
      number.scope = "row";
      number.textContent = account.accountNumber;
      row.append(number);
      cell(row, TEXT[language].products[account.productCode] || account.productCode);
      cell(row, amount(account.balance), "amount").dataset.testid = "balance";
      if (account.asOf) {
        const time = document.createElement("time");
        time.dateTime = account.asOf;
        time.textContent = dateTime(new Date(account.asOf));
        cell(row, time);
      } else {
        cell(row, "–");
      }
      body.append(row);
    }
    $("accounts-table").hidden = list.length === 0;
    $("no-accounts").hidden = list.length !== 0;
    const note = $("stale-note");
    const asOf = staleTime(accounts);
    note.hidden = !accounts.stale;
    note.textContent = accounts.stale ? t("stale", { time: asOf ? hhmm(asOf) : "--:--" }) : "";
  }

  // The time the balances are as of: the view's own time, else the oldest account's.
  function staleTime(answer) {
    const times = [answer.viewAsOf, ...(answer.accounts || []).map((a) => a.asOf)]
      .filter(Boolean)
      .map((value) => new Date(value))
      .filter((date) => !Number.isNaN(date.getTime()));
    if (answer.viewAsOf && times.length) return times[0];
    return times.length ? new Date(Math.min(...times.map((d) => d.getTime()))) : null;
  }

  function show(view) {
    const loggedIn = view === "accounts";
    $("login-view").hidden = loggedIn;
    $("accounts-view").hidden = !loggedIn;
    (loggedIn ? $("accounts-heading") : $("banking-id")).focus();
  }

  // --- the API ----------------------------------------------------------------------------------------------------
  async function call(method, path, { body, token } = {}) {
    const headers = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (token) headers.authorization = `Bearer ${token}`;
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null; // Envoy's own answers (a 429 of the rate limit, say) are plain text
    }
    return { status: response.status, ok: response.ok, data, retryAfter: retrySeconds(response, data) };
  }

  // Seconds to wait when the answer says the system is busy: a google.rpc.RetryInfo in the body
  // (RESOURCE_EXHAUSTED) or HTTP 429 with Retry-After (seconds or a date); null when it says nothing of it.
  function retrySeconds(response, data) {
    let seconds = null;
    for (const detail of (data && Array.isArray(data.details) && data.details) || []) {
      if (String(detail["@type"] || "").endsWith("google.rpc.RetryInfo") && detail.retryDelay) {
        const value = parseFloat(String(detail.retryDelay));
        if (Number.isFinite(value)) seconds = Math.ceil(value);
      }
    }
    const header = response.headers.get("retry-after");
    if (seconds === null && header) {
      const value = Number(header);
      if (Number.isFinite(value)) seconds = Math.ceil(value);
      else if (!Number.isNaN(Date.parse(header))) seconds = Math.ceil((Date.parse(header) - Date.now()) / 1000);
    }
    const busy = response.status === 429 || (data && data.code === 8) || seconds !== null;
    return busy ? Math.max(1, seconds ?? 1) : null;
  }

  function busy(button, on) {
    button.disabled = on;
    button.setAttribute("aria-busy", on ? "true" : "false");
  }

  async function login(event) {
    event.preventDefault();
    const id = $("banking-id");
    const password = $("password");
    for (const input of [id, password]) input.removeAttribute("aria-invalid");
    if (!id.value.trim() || !password.value) {
      const empty = !id.value.trim() ? id : password;
      empty.setAttribute("aria-invalid", "true");
      say("missing", {}, "error");
      empty.focus();
      return;
    }
    const button = $("login-button");
    busy(button, true);
    say("signingIn");
    try {
      const answer = await call("POST", "/v1/login", { body: { bankingId: id.value.trim(), password: password.value } });
      if (answer.ok && answer.data && answer.data.accessToken) {
        session = { accessToken: answer.data.accessToken, refreshToken: answer.data.refreshToken || "" };
        password.value = "";
        await loadAccounts(true);
      } else if (answer.retryAfter !== null) {
        say("retryIn", { n: answer.retryAfter }, "error");
        password.focus();
      } else if (answer.status >= 400 && answer.status < 500) {
        // UNAUTHENTICATED (or a refused input): the same words whatever the cause
        password.value = "";
        password.setAttribute("aria-invalid", "true");
        say("loginFailed", {}, "error");
        password.focus();
      } else {
        say("failed", {}, "error");
      }
    } catch {
      say("failed", {}, "error");
    } finally {
      busy(button, false);
    }
  }

  async function refresh() {
    if (!session || !session.refreshToken) return false;
    const answer = await call("POST", "/v1/tokens:refresh", { body: { refreshToken: session.refreshToken } });
    if (!answer.ok || !answer.data || !answer.data.accessToken) return false;
    session = { accessToken: answer.data.accessToken, refreshToken: answer.data.refreshToken || "" };
    return true;
  }

  async function loadAccounts(afterLogin = false) {
    if (!session) return;
    say("loading");
    try {
      let answer = await call("GET", "/v1/my/accounts", { token: session.accessToken });
      if (answer.status === 401 && (await refresh())) {
        answer = await call("GET", "/v1/my/accounts", { token: session.accessToken });
      }
      if (answer.ok && answer.data) {
        accounts = answer.data;
        renderAccounts();
        if (afterLogin) show("accounts");
        say("loaded", { n: (accounts.accounts || []).length });
      } else if (answer.status === 401) {
        forget();
        show("login");
        say("sessionEnded", {}, "error");
      } else if (answer.retryAfter !== null) {
        say("retryIn", { n: answer.retryAfter }, "error");
      } else {
        say("failed", {}, "error");
      }
    } catch {
      say("failed", {}, "error");
    }
  }

  function forget() {
    session = null;
    accounts = null;
    $("accounts-body").replaceChildren();
    $("stale-note").hidden = true;
  }

  async function logout() {
    const token = session && session.accessToken;
    const button = $("logout-button");
    busy(button, true);
    try {
      if (token) await call("POST", "/v1/logout", { body: {}, token });
    } catch {
      // signed out here whatever the server said: the token is forgotten below and expires on its own
    } finally {
      busy(button, false);
      forget();
      show("login");
      say("signedOut");
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    applyLanguage();
    $("language").addEventListener("change", (event) => {
      language = event.target.value === "ko" ? "ko" : "en";
      applyLanguage();
    });
    $("login-form").addEventListener("submit", login);
    $("reload-button").addEventListener("click", () => loadAccounts(false));
    $("logout-button").addEventListener("click", logout);
    $("banking-id").focus();
  });
})();
