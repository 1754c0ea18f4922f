"""The web page (web/), served by Envoy itself: its HTML answer carries the security headers and the files keep to
what the CSP allows (no inline script or style) and keep tokens out of storage; and, end to end, a real headless
Chromium (tests/web/e2e.mjs, playwright-core) logs in with a wrong password then the right one, sees the balance,
switches the language and logs out, against the real system behind Envoy. The screenshot is docs/web-page.png.

Needs `scripts/bootstrap.sh` (node_modules here, /usr/bin/chromium)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.gateway.harness import Envoy, load_gen_envoy
from tests.integration.full_system import FullSystem, Outcome, RestWay
from tests.integration.test_member_service import PASSWORD
from tests.operator import operator_token

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
HERE = Path(__file__).resolve().parent
SCREENSHOT = ROOT / "docs" / "web-page.png"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

CUSTOMER = "bank.customer.v1.CustomerService/"
MEMBER = "bank.member.v1.MemberService/"
ACCOUNT = "bank.account.v1.AccountService/"
MY_ACCOUNTS = "bank.my_accounts.v1.MyAccountsService/"


# ------------------------------------------------------------------------------------- the files and the headers
@pytest.fixture(scope="module")
def envoy_alone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Envoy]:
    """Envoy with the generated config and no service behind it: the page is Envoy's own answer."""
    folder = tmp_path_factory.mktemp("web-gateway")
    jwks = folder / "jwks.json"
    load_gen_envoy().throwaway_jwks(jwks)
    envoy = Envoy(folder, {"MEMBER_JWKS_FILE": str(jwks), "OPERATOR_JWKS_FILE": str(jwks)})
    envoy.start()
    try:
        yield envoy
    finally:
        envoy.stop()


def test_the_html_served_by_envoy_carries_the_csp(envoy_alone: Envoy) -> None:
    response = httpx.get(envoy_alone.url + "/", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert response.content == (WEB / "index.html").read_bytes()
    for path in ("/app/app.js", "/app/app.css", "/app/favicon.svg"):
        asset = httpx.get(envoy_alone.url + path, timeout=10)
        assert asset.status_code == 200 and asset.headers["content-security-policy"] == CSP, path


def test_the_files_keep_to_the_csp_and_keep_tokens_in_memory() -> None:
    html = (WEB / "index.html").read_text(encoding="utf-8")
    scripts = re.findall(r"<script\b[^>]*>", html, flags=re.IGNORECASE)
    assert scripts == ['<script src="/app/app.js" defer>'], scripts  # same origin, no inline script
    assert not re.search(r"<script\b[^>]*>\s*[^<\s]", html), "inline script"
    assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=|javascript:", html, flags=re.IGNORECASE)
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "everything same-origin"
    script = (WEB / "app.js").read_text(encoding="utf-8")
    code = re.sub(r"(?m)^\s*//.*$", "", script)  # the comments may name what the code never does
    for forbidden in ("localStorage", "sessionStorage", "document.cookie", "indexedDB", "eval(", "innerHTML"):
        assert forbidden not in code, forbidden
    assert "http://" not in script and "https://" not in script  # the API is the page's own origin


# ------------------------------------------------------------------------------------------- the real browser
def _ok(outcome: Outcome, what: str) -> dict:
    assert outcome.code == "OK", f"{what}: {outcome.code} {json.dumps(outcome.body, ensure_ascii=False)}"
    return outcome.body


def _until(way: RestWay, rpc: str, request: dict, token: str, done, what: str) -> Outcome:  # type: ignore[no-untyped-def]
    """Repeat until `done`: the services learn of each other's changes from Kafka."""
    deadline = time.monotonic() + 60
    while True:
        outcome = way.call(rpc, request, token)
        if done(outcome):
            return outcome
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: {outcome.code} {json.dumps(outcome.body, ensure_ascii=False)}")
        time.sleep(0.3)


def make_member_with_money(way: RestWay, operator: str, amount: int) -> tuple[str, str]:
    """Through the gateway's REST API, as any client: a customer, its banking member, an account with a
    deposit; returns (banking id, account number) once my_accounts shows the balance."""
    customer = _ok(way.call(CUSTOMER + "RegisterCustomer", {"name": "김웹"}, operator), "register")["customer"]
    cid = customer["customerId"]
    banking_id = f"web{uuid.uuid4().hex[:8]}"
    enroll = {"customerId": cid, "bankingId": banking_id, "password": PASSWORD}
    # FAILED_PRECONDITION until the member service has heard of the customer
    not_yet = "FAILED_PRECONDITION"
    enrolled = _until(way, MEMBER + "EnrollMember", enroll, operator, lambda o: o.code != not_yet, "enroll")
    _ok(enrolled, "enroll")
    token = _ok(way.call(MEMBER + "Login", {"bankingId": banking_id, "password": PASSWORD}, None), "login")[
        "accessToken"
    ]
    request = {"customerId": cid, "productCode": "SAVINGS", "idempotencyKey": f"open-{uuid.uuid4()}"}
    opened = _until(way, ACCOUNT + "OpenAccount", request, token, lambda o: o.code != not_yet, "open")
    number = _ok(opened, "open")["account"]["accountNumber"]
    deposit = {"accountNumber": number, "amount": str(amount), "idempotencyKey": f"dep-{uuid.uuid4()}"}
    _ok(way.call(ACCOUNT + "Deposit", deposit, token), "deposit")
    caught_up = {"accountNumber": number, "minSequence": "2"}  # opened, deposited
    _until(
        way,
        MY_ACCOUNTS + "ListMyAccounts",
        caught_up,
        token,
        lambda o: o.code == "OK" and o.body.get("minSequenceReached") is True,
        "the view has the deposit",
    )
    _ok(way.call(MEMBER + "Logout", {}, token), "logout of the setup session")
    return banking_id, number


@pytest.mark.kafka
def test_login_accounts_language_logout_in_headless_chromium(service_factory, tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "node is not on PATH"
    assert (HERE / "node_modules" / "playwright-core").is_dir(), "run scripts/bootstrap.sh (npm ci in tests/web)"
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: run scripts/bootstrap.sh (apt-get install chromium)"

    system = FullSystem(service_factory, tmp_path / "gateway")
    way = system.gateway_rest()
    try:
        amount = 1_234_567
        banking_id, number = make_member_with_money(way, operator_token(system.var_dir), amount)
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "WEB_URL": system.envoy.url + "/",
            "BANKING_ID": banking_id,
            "PASSWORD": PASSWORD,
            "EXPECTED_BALANCE": str(amount),
            "ACCOUNT_NUMBER": number,
            "SCREENSHOT": str(SCREENSHOT),
            "CHROMIUM": str(CHROMIUM),
        }
        result = subprocess.run(
            [node, str(HERE / "e2e.mjs")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
        )
    finally:
        way.close()
        system.stop()
    output = result.stdout + result.stderr
    print(output)
    assert result.returncode == 0, output
    assert re.search(r"^E2E PASSED \d+ checks$", result.stdout, flags=re.MULTILINE), output
    for check in (
        "ok wrong password answers the generic message",
        "ok generic message in Korean",
        f"ok balance of {number} is 1,234,567원",
        "ok balance in English is ₩1,234,567",
        "ok lang=en after the switch",
        "ok POST /v1/logout answered 200",
        "ok back to the form",
        "ok no token in localStorage, sessionStorage or cookies",
        "ok no console error, CSP violation or other-origin request",
    ):
        assert check in result.stdout, check
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the page and its API calls went through the gateway: Envoy's access log has them (the REST path as sent,
    # the method after transcoding)
    browser = system.envoy.access_log()
    browser = browser[next(i for i, e in enumerate(browser) if e["path"] == "/") :]
    paths = {e["path"] for e in browser}
    assert {
        "/",
        "/app/app.js",
        "/app/app.css",
        "/app/favicon.svg",
        "/v1/login",
        "/v1/my/accounts",
        "/v1/logout",
    } <= paths, paths
    refused = [(e["path"], e["status"]) for e in browser if e["status"] >= 400]
    assert refused == [("/v1/login", 401)], refused  # the wrong password, nothing else (no /favicon.ico either)
