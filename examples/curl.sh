#!/usr/bin/env bash
# Call the running bank through the gateway with curl (REST/JSON, transcoded by Envoy to the services' gRPC):
# fetch the OpenAPI document, register a customer, enroll a banking member, log in, open an account, deposit,
# list my accounts.
#
#   examples/curl.sh             # after scripts/up.sh or `bank up`
#
# GATEWAY_URL (default http://127.0.0.1:8080) is the gateway; OPERATOR_TOKEN, if set, the operator token,
# else `bank operator-token` makes one (set BANK_VAR_DIR as for `bank`). BANK / PYTHON override the commands.
# Exits non-zero on any unexpected answer.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GATEWAY_URL="${GATEWAY_URL:-http://127.0.0.1:8080}"
GATEWAY_URL="${GATEWAY_URL%/}"
venv_or_path() { if [[ -x "$ROOT/.venv/bin/$1" ]]; then echo "$ROOT/.venv/bin/$1"; else command -v "$1"; fi; }
PYTHON="${PYTHON:-$(command -v python3 || command -v python)}"
SETTLE=30 # seconds to wait for a service to learn of the customer from Kafka
DEPOSIT=100000

# get FIELD.PATH: a field of the JSON on stdin (python, as jq may not be installed).
get() { "$PYTHON" -c 'import json, sys
value = json.load(sys.stdin)
for key in sys.argv[1].split("."):
    value = value[int(key)] if isinstance(value, list) else value[key]
print(value)' "$1"; }
# shorten: the answer on stdin with its tokens cut to 12 characters, on one line.
shorten() { "$PYTHON" -c 'import json, sys
answer = json.load(sys.stdin)
for name in ("accessToken", "refreshToken"):
    if name in answer:
        answer[name] = answer[name][:12] + "…"
print(json.dumps(answer, ensure_ascii=False))'; }
fail() { echo "${0##*/}: $*" >&2; exit 1; }

# request TOKEN VERB PATH [JSON]: sets STATUS and BODY (curl's own failures, e.g. no gateway, exit at once).
request() {
    local token="$1" verb="$2" path="$3" data="${4:-}" out
    local args=(-sS --max-time 10 -X "$verb" -w '\n%{http_code}')
    [[ -n "$token" ]] && args+=(-H "Authorization: Bearer $token")
    [[ -n "$data" ]] && args+=(-H 'Content-Type: application/json' --data "$data")
    out="$(curl "${args[@]}" "$GATEWAY_URL$path")"
    STATUS="${out##*$'\n'}"
    BODY="${out%$'\n'*}"
}
# call TOKEN VERB PATH [JSON]: one request that must answer 200; prints nothing, sets BODY.
call() {
    request "$@"
    [[ "$STATUS" == 200 ]] || fail "$2 $3: HTTP $STATUS $BODY"
}
# settled TOKEN VERB PATH [JSON]: again while refused with FAILED_PRECONDITION (HTTP 400, code 9 in the
# google.rpc.Status body): a service that learns of new customers from Kafka has not seen this one yet.
settled() {
    local deadline=$((SECONDS + SETTLE))
    while true; do
        request "$@"
        [[ "$STATUS" == 200 ]] && return 0
        if [[ "$STATUS" != 400 || "$(get code <<<"$BODY" 2>/dev/null)" != 9 || $SECONDS -ge $deadline ]]; then
            fail "$2 $3: HTTP $STATUS $BODY"
        fi
        echo "  $2 $3: HTTP 400 FAILED_PRECONDITION, retrying" >&2
        sleep 0.5
    done
}

SUFFIX="$("$PYTHON" -c 'import secrets; print(secrets.token_hex(4))')"
BANKING_ID="curl-$SUFFIX"
PASSWORD="curl example $("$PYTHON" -c 'import secrets; print(secrets.token_hex(8))')"
if [[ -n "${OPERATOR_TOKEN:-}" ]]; then
    OPERATOR="$OPERATOR_TOKEN"
else
    OPERATOR="$("${BANK:-$(venv_or_path bank)}" operator-token --name examples 2>/dev/null)" ||
        fail "bank operator-token failed: activate the venv and set BANK_VAR_DIR as for bank up, or set OPERATOR_TOKEN"
fi
echo "gateway $GATEWAY_URL (REST/JSON), banking id $BANKING_ID"

call "" GET /openapi.json # public, answered by the gateway itself
OPENAPI="$("$PYTHON" -c 'import json, sys
doc = json.load(sys.stdin)
print("swagger %s, %s, %d paths" % (doc["swagger"], doc["info"]["title"], len(doc["paths"])))' <<<"$BODY")"
echo "GET /openapi.json: $OPENAPI"

call "$OPERATOR" POST /v1/customers "{\"name\": \"예시 $SUFFIX\"}"
echo "POST /v1/customers: $(shorten <<<"$BODY")"
CUSTOMER_ID="$(get customer.customerId <<<"$BODY")"

settled "$OPERATOR" POST /v1/members \
    "{\"customerId\": \"$CUSTOMER_ID\", \"bankingId\": \"$BANKING_ID\", \"password\": \"$PASSWORD\"}"
echo "POST /v1/members: $(shorten <<<"$BODY")"

call "" POST /v1/login "{\"bankingId\": \"$BANKING_ID\", \"password\": \"$PASSWORD\"}"
echo "POST /v1/login: $(shorten <<<"$BODY")"
ACCESS_TOKEN="$(get accessToken <<<"$BODY")"

# The same idempotency key on every retry: an open that did happen is never repeated.
settled "$ACCESS_TOKEN" POST /v1/accounts \
    "{\"customerId\": \"$CUSTOMER_ID\", \"productCode\": \"SAVINGS\", \"idempotencyKey\": \"curl-open-$SUFFIX\"}"
echo "POST /v1/accounts: $(shorten <<<"$BODY")"
ACCOUNT="$(get account.accountNumber <<<"$BODY")"

call "$ACCESS_TOKEN" POST "/v1/accounts/$ACCOUNT:deposit" \
    "{\"amount\": \"$DEPOSIT\", \"idempotencyKey\": \"curl-deposit-$SUFFIX\"}"
echo "POST /v1/accounts/$ACCOUNT:deposit: $(shorten <<<"$BODY")"
[[ "$(get account.balance <<<"$BODY")" == "$DEPOSIT" ]] || fail "deposit: balance is not $DEPOSIT"
SEQUENCE="$(get account.sequence <<<"$BODY")"

# The list is a view fed by Kafka: ask it to say when it has the deposit (read your own write).
deadline=$((SECONDS + SETTLE))
while true; do
    call "$ACCESS_TOKEN" GET "/v1/my/accounts?accountNumber=$ACCOUNT&minSequence=$SEQUENCE"
    [[ "$(get minSequenceReached <<<"$BODY")" == "True" || $SECONDS -ge $deadline ]] && break
    sleep 0.3
done
echo "GET /v1/my/accounts: $(shorten <<<"$BODY")"
[[ "$(get accounts.0.accountNumber <<<"$BODY") $(get accounts.0.balance <<<"$BODY")" == "$ACCOUNT $DEPOSIT" ]] ||
    fail "GET /v1/my/accounts: expected $ACCOUNT at $DEPOSIT"
echo "done: account $ACCOUNT of $BANKING_ID lists balance $DEPOSIT through the gateway"
