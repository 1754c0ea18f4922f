"""The cluster's event bus and internal link are authenticated (issue 15; docs/event-bus-security.md), checked
offline on the rendered manifests: Kafka's listeners are TLS with SCRAM-SHA-512 and ACL authorization; every
principal of adapters/outbound/kafka/security.py is a KafkaUser with exactly its ACLs; every process that uses
Kafka gets the Secret of each principal it authenticates as (and no other) and the cluster CA; member and
my-accounts get their service TLS Secrets for the mutual-TLS snapshot link."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.deploy.test_k8s import TARGETS, by_name, common_env, container_env, of_kind, pod_spec, render, role_of

# (service, role) -> the principals the process authenticates as, derived from what each role does (not from
# scripts/gen_k8s.py's table): a relay publishes its service's topic; a serve process builds its relay's producer
# and, for member and account, runs their consumer; my_accounts' projector consumes every event topic.
EXPECTED = {
    ("customer", "serve"): {"customer-relay"},
    ("customer", "relay"): {"customer-relay"},
    ("member", "serve"): {"member-relay", "member-consumer"},
    ("member", "relay"): {"member-relay"},
    ("account", "serve"): {"account-relay", "account-consumer"},
    ("account", "relay"): {"account-relay"},
    ("my_accounts", "serve"): set(),
    ("my_accounts", "projector"): {"my-accounts-projector"},
}
SERVICE_TLS = {("member", "serve"): "member-service-tls", ("my_accounts", "serve"): "my-accounts-service-tls"}


def mounted_secrets(deployment: dict[str, Any]) -> dict[str, str]:
    """Secret name -> mount path in the app container."""
    spec = pod_spec(deployment)
    volumes = {v["name"]: v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v}
    mounts = spec["containers"][0].get("volumeMounts", [])
    return {volumes[m["name"]]: m["mountPath"] for m in mounts if m["name"] in volumes}


def check_event_bus(docs: list[dict[str, Any]]) -> list[str]:
    import sys

    from tests.deploy.test_k8s import ROOT

    sys.path[:0] = [str(ROOT), str(ROOT / "src")]
    from adapters.outbound.kafka.security import PRINCIPALS

    problems = []
    ((cluster, kafka),) = by_name(docs, "Kafka").items()
    for listener in kafka["spec"]["kafka"]["listeners"]:
        if not listener.get("tls") or listener.get("authentication", {}).get("type") != "scram-sha-512":
            problems.append(f"Kafka listener {listener['name']}: not TLS with SCRAM-SHA-512")
    if kafka["spec"]["kafka"].get("authorization", {}).get("type") != "simple":
        problems.append("Kafka: no ACL authorization (authorization.type simple)")
    if "userOperator" not in kafka["spec"].get("entityOperator", {}):
        problems.append("Kafka: no User Operator (the KafkaUsers would never become users)")

    users = by_name(docs, "KafkaUser")
    for principal in PRINCIPALS:
        user = users.pop(principal.name, None)
        if user is None:
            problems.append(f"principal {principal.name}: no KafkaUser")
            continue
        if user["metadata"].get("labels", {}).get("strimzi.io/cluster") != cluster:
            problems.append(f"KafkaUser {principal.name}: not labelled for Kafka {cluster}")
        if user["spec"]["authentication"]["type"] != "scram-sha-512":
            problems.append(f"KafkaUser {principal.name}: not SCRAM-SHA-512")
        acls = {
            (a["resource"]["type"], a["resource"]["name"], a["resource"]["patternType"], op)
            for a in user["spec"]["authorization"]["acls"]
            for op in a["operations"]
        }
        grants = principal.grants()
        wanted = {(g.kind, g.name, "prefix" if g.prefixed else "literal", op) for g in grants for op in g.operations}
        if acls != wanted:
            problems.append(f"KafkaUser {principal.name}: ACLs {sorted(acls ^ wanted)} differ from the table")
    problems += [f"KafkaUser {name}: not a principal of the table" for name in users]

    env = common_env(docs)
    if env.get("KAFKA_SECURITY_PROTOCOL") != "SASL_SSL" or env.get("KAFKA_SASL_MECHANISM") != "SCRAM-SHA-512":
        problems.append("bank-common: the services do not use SASL_SSL with SCRAM-SHA-512")
    credentials, ca = env.get("KAFKA_CREDENTIALS_DIR", ""), env.get("KAFKA_SSL_CA_LOCATION", "")
    for deployment in of_kind(docs, "Deployment"):
        role = role_of(deployment)
        if role is None:
            continue
        name = deployment["metadata"]["name"]
        secrets = mounted_secrets(deployment)
        principals = EXPECTED[role]
        kafka_secrets = {s for s in secrets if s in {p.name for p in PRINCIPALS}}
        if kafka_secrets != principals:
            problems.append(f"{name}: Kafka credentials {sorted(kafka_secrets)}, expected {sorted(principals)}")
        for principal in principals & kafka_secrets:
            if secrets[principal] != f"{credentials}/{principal}":
                problems.append(f"{name}: {principal}'s Secret is not at KAFKA_CREDENTIALS_DIR/{principal}")
        if principals and secrets.get(f"{cluster}-cluster-ca-cert", "") + "/ca.crt" != ca:
            problems.append(f"{name}: the cluster CA is not mounted at KAFKA_SSL_CA_LOCATION")
        tls = SERVICE_TLS.get(role)
        app_env = container_env(docs, pod_spec(deployment)["containers"][0])
        if tls is not None:
            where = secrets.get(tls)
            files = [app_env.get(f"SERVICE_TLS_{part}_FILE", "") for part in ("CA", "CERT", "KEY")]
            if where is None or files != [f"{where}/ca.crt", f"{where}/tls.crt", f"{where}/tls.key"]:
                problems.append(f"{name}: service TLS Secret {tls} not mounted where SERVICE_TLS_*_FILE point")
        elif any(s.endswith("-service-tls") for s in secrets):
            problems.append(f"{name}: holds a service TLS identity it does not use")
    return problems


@pytest.mark.parametrize("target", TARGETS)
def test_the_event_bus_and_internal_link_are_authenticated(target: str) -> None:
    assert check_event_bus(render(target)) == []


def test_the_check_catches_open_listeners_missing_users_and_extra_credentials() -> None:
    docs = render("base")
    assert check_event_bus(docs) == []
    broken = copy.deepcopy(docs)
    kafka = next(d for d in broken if d["kind"] == "Kafka")
    kafka["spec"]["kafka"]["listeners"][0].pop("authentication")
    broken = [d for d in broken if not (d["kind"] == "KafkaUser" and d["metadata"]["name"] == "member-relay")]
    account = next(d for d in broken if d["kind"] == "Deployment" and d["metadata"]["name"] == "account-relay")
    spec = pod_spec(account)
    spec["volumes"].append({"name": "stolen", "secret": {"secretName": "customer-relay"}})
    spec["containers"][0]["volumeMounts"].append({"name": "stolen", "mountPath": "/etc/bank/kafka/customer-relay"})
    problems = "\n".join(check_event_bus(broken))
    assert "Kafka listener tls: not TLS with SCRAM-SHA-512" in problems
    assert "principal member-relay: no KafkaUser" in problems
    assert "account-relay: Kafka credentials ['account-relay', 'customer-relay']" in problems
