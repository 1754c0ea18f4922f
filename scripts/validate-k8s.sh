#!/usr/bin/env bash
# Validate the Kubernetes manifests offline (no cluster): the generated files are up to date, kustomize renders
# base and both overlays (into var/k8s/), the core kinds pass `kubernetes-validate --strict` for the Kubernetes
# version the pinned kubernetes-validate bundles, then tests/deploy (CRD schemas of the Strimzi and CloudNativePG
# resources, skaffold.yaml's schema, and the policies). --no-pytest stops before tests/deploy (scripts/test.sh
# runs it with the rest of the suite). Needs scripts/bootstrap.sh (kustomize in .venv/bin).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export PATH="$root/.venv/bin:$PATH"
kubernetes_version="1.37.0"
command -v kustomize >/dev/null || { echo "kustomize not found: run scripts/bootstrap.sh" >&2; exit 1; }

python scripts/gen_k8s.py --check
mkdir -p var/k8s
for target in base overlays/dev overlays/prod; do
  out="var/k8s/${target//\//-}.yaml"
  kustomize build "deploy/k8s/$target" > "$out"
  # the operators' kinds have no schema in kubernetes-validate: tests/deploy checks them against their CRDs
  python - "$out" "${out%.yaml}.core.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
core = [d for d in docs if d["apiVersion"].split("/")[0] not in ("kafka.strimzi.io", "postgresql.cnpg.io")]
with open(sys.argv[2], "w") as out:
    yaml.safe_dump_all(core, out, sort_keys=False)
print(f"{sys.argv[1]}: {len(docs)} resources, {len(core)} of core kinds", file=sys.stderr)
PY
  kubernetes-validate --strict --quiet -k "$kubernetes_version" "${out%.yaml}.core.yaml"
done
echo "kustomize + kubernetes-validate --strict ($kubernetes_version): base, overlays/dev, overlays/prod OK" >&2
if [[ "${1:-}" != "--no-pytest" ]]; then
  python -m pytest -q tests/deploy
fi
