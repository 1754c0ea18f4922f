#!/usr/bin/env bash
# Make the Secrets the manifests expect in namespace $1 (skaffold runs this before every deploy; idempotent;
# needs kubectl with a context for the cluster, and the project's venv from scripts/bootstrap.sh):
#   operator-jwks     jwks.json: the public keys of the operator keys in ${OPERATOR_KEYS_DIR:-var/keys/operator}
#                     (made on first use, as a local run does), so `bank operator-token` signs for this cluster;
#                     re-applied every time (the file changes when a key is added)
#   member-jwt-keys   <kid>.pem: the member service's ES256 signing key, made once if the Secret is missing and
#                     never replaced here (rotation: add a key to the Secret, restart, later remove the old one)
#   member-service-tls, my-accounts-service-tls
#                     ca.crt, tls.crt, tls.key: the identities of the mutual-TLS snapshot link, signed by the
#                     internal CA in ${SERVICE_TLS_DIR:-var/keys/service-tls-k8s} (made on first use; its key stays
#                     there, never in the cluster); re-applied every time
# The Kafka credentials are not made here: Strimzi's User Operator makes a Secret per KafkaUser.
# Private keys never go into git; the operator's private keys never go into the cluster.
set -euo pipefail
namespace="${1:?usage: scripts/k8s-secrets.sh NAMESPACE}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
python="$root/.venv/bin/python"
[[ -x "$python" ]] || python=python3
keys_dir="${OPERATOR_KEYS_DIR:-var/keys/operator}"

kubectl create namespace "$namespace" --dry-run=client -o yaml | kubectl apply -f - >/dev/null

PYTHONPATH="$root:$root/src" "$python" -c '
import sys
from pathlib import Path
from adapters.outbound.security.operator_tokens import load_or_create_operator_keys
load_or_create_operator_keys(Path(sys.argv[1]))
' "$keys_dir"
kubectl -n "$namespace" create secret generic operator-jwks --from-file=jwks.json="$keys_dir/jwks.json" \
  --dry-run=client -o yaml | kubectl apply -f -

if ! kubectl -n "$namespace" get secret member-jwt-keys >/dev/null 2>&1; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  PYTHONPATH="$root:$root/src" "$python" -c '
import sys
from pathlib import Path
from adapters.outbound.security.signing_keys import load_or_create_signing_keys
load_or_create_signing_keys(Path(sys.argv[1]) / "keys")
' "$tmp"
  kubectl -n "$namespace" create secret generic member-jwt-keys --from-file="$tmp/keys"
fi

tls_dir="${SERVICE_TLS_DIR:-var/keys/service-tls-k8s}"
for identity in member my-accounts; do
  PYTHONPATH="$root:$root/src" "$python" -c '
import sys
from pathlib import Path
from adapters.outbound.security.service_tls import load_or_create
load_or_create(Path(sys.argv[1]), sys.argv[2])
' "$tls_dir" "$identity"
  kubectl -n "$namespace" create secret generic "$identity-service-tls" --from-file=ca.crt="$tls_dir/ca.crt" \
    --from-file=tls.crt="$tls_dir/$identity.crt" --from-file=tls.key="$tls_dir/$identity.key" \
    --dry-run=client -o yaml | kubectl apply -f -
done
