#!/usr/bin/env bash
# Call the running bank through the gateway with grpcurl (native gRPC, h2c): register a customer, enroll a
# banking member, log in, open an account, deposit, list my accounts.
#
#   examples/grpcurl.sh          # after scripts/up.sh or `bank up`
#
# The gateway serves no reflection: grpcurl reads the contracts from the committed descriptor set
# (deploy/envoy/descriptor.binpb, -protoset). GATEWAY_URL (default http://127.0.0.1:8080) is the gateway;
# OPERATOR_TOKEN, if set, the operator token, else `bank operator-token` makes one (set BANK_VAR_DIR as for
# `bank`). GRPCURL / BANK / PYTHON override the commands. Exits non-zero on any unexpected answer.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GATEWAY_URL="${GATEWAY_URL:-http://127.0.0.1:8080}"
TARGET="${GATEWAY_URL#*://}"
TARGET="${TARGET%%/*}"
PROTOSET="$ROOT/deploy/envoy/descriptor.binpb"
venv_or_path() { if [[ -x "$ROOT/.venv/bin/$1" ]]; then echo "$ROOT/.venv/bin/$1"; else command -v "$1"; fi; }
GRPCURL="${GRPCURL:-$(venv_or_path grpcurl)}"
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

# call TOKEN METHOD JSON: one RPC through the gateway; prints the answer, fails on any error.
call() {
    local token="$1" method="$2" data="$3"
    "$GRPCURL" -plaintext -protoset "$PROTOSET" -max-time 10 ${token:+-H "authorization: Bearer $token"} \
        -d "$data" "$TARGET" "$method"
}
# settled TOKEN METHOD JSON: call again while FAILED_PRECONDITION (grpcurl exits 64 + the gRPC code, 9): a
# service that learns of new customers from Kafka has not seen this one yet.
settled() {
    local deadline=$((SECONDS + SETTLE)) answer rc
    while true; do
        rc=0
        answer="$(call "$@" 2>&1)" || rc=$?
        if [[ $rc -eq 0 ]]; then
            echo "$answer"
            return 0
        fi
        if [[ $rc -ne 73 || $SECONDS -ge $deadline ]]; then
            echo "$2: $answer" >&2
            return 1
        fi
        echo "  ${2##*/}: FAILED_PRECONDITION, retrying" >&2
        sleep 0.5
    done
}
fail() { echo "${0##*/}: $*" >&2; exit 1; }

SUFFIX="$("$PYTHON" -c 'import secrets; print(secrets.token_hex(4))')"
BANKING_ID="grpcurl-$SUFFIX"
PASSWORD="grpcurl example $("$PYTHON" -c 'import secrets; print(secrets.token_hex(8))')"
if [[ -n "${OPERATOR_TOKEN:-}" ]]; then
    OPERATOR="$OPERATOR_TOKEN"
else
    OPERATOR="$("${BANK:-$(venv_or_path bank)}" operator-token --name examples 2>/dev/null)" ||
        fail "bank operator-token failed: activate the venv and set BANK_VAR_DIR as for bank up, or set OPERATOR_TOKEN"
fi
echo "gateway $TARGET (gRPC, -protoset $PROTOSET), banking id $BANKING_ID"

ANSWER="$(call "$OPERATOR" bank.customer.v1.CustomerService/RegisterCustomer "{\"name\": \"예시 $SUFFIX\"}")"
echo "RegisterCustomer: $(shorten <<<"$ANSWER")"
CUSTOMER_ID="$(get customer.customerId <<<"$ANSWER")"

ANSWER="$(settled "$OPERATOR" bank.member.v1.MemberService/EnrollMember \
    "{\"customer_id\": \"$CUSTOMER_ID\", \"banking_id\": \"$BANKING_ID\", \"password\": \"$PASSWORD\"}")"
echo "EnrollMember: $(shorten <<<"$ANSWER")"

ANSWER="$(call "" bank.member.v1.MemberService/Login \
    "{\"banking_id\": \"$BANKING_ID\", \"password\": \"$PASSWORD\"}")"
echo "Login: $(shorten <<<"$ANSWER")"
ACCESS_TOKEN="$(get accessToken <<<"$ANSWER")"

# The same idempotency key on every retry: an open that did happen is never repeated.
ANSWER="$(settled "$ACCESS_TOKEN" bank.account.v1.AccountService/OpenAccount \
    "{\"customer_id\": \"$CUSTOMER_ID\", \"product_code\": \"SAVINGS\", \"idempotency_key\": \"grpcurl-open-$SUFFIX\"}")"
echo "OpenAccount: $(shorten <<<"$ANSWER")"
ACCOUNT="$(get account.accountNumber <<<"$ANSWER")"

ANSWER="$(call "$ACCESS_TOKEN" bank.account.v1.AccountService/Deposit \
    "{\"account_number\": \"$ACCOUNT\", \"amount\": $DEPOSIT, \"idempotency_key\": \"grpcurl-deposit-$SUFFIX\"}")"
echo "Deposit: $(shorten <<<"$ANSWER")"
[[ "$(get account.balance <<<"$ANSWER")" == "$DEPOSIT" ]] || fail "Deposit: balance is not $DEPOSIT"
SEQUENCE="$(get account.sequence <<<"$ANSWER")"

# The list is a view fed by Kafka: ask it to say when it has the deposit (read your own write).
deadline=$((SECONDS + SETTLE))
while true; do
    ANSWER="$(call "$ACCESS_TOKEN" bank.my_accounts.v1.MyAccountsService/ListMyAccounts \
        "{\"account_number\": \"$ACCOUNT\", \"min_sequence\": $SEQUENCE}")"
    [[ "$(get minSequenceReached <<<"$ANSWER")" == "True" || $SECONDS -ge $deadline ]] && break
    sleep 0.3
done
echo "ListMyAccounts: $(shorten <<<"$ANSWER")"
[[ "$(get accounts.0.accountNumber <<<"$ANSWER") $(get accounts.0.balance <<<"$ANSWER")" == "$ACCOUNT $DEPOSIT" ]] ||
    fail "ListMyAccounts: expected $ACCOUNT at $DEPOSIT"
echo "done: account $ACCOUNT of $BANKING_ID lists balance $DEPOSIT through the gateway"
