"""The deployment files agree with each other and with the code.

Parses docker-compose.yml, deploy/Dockerfile, the kustomize base and overlay, the Grafana provisioning
and dashboards, and the Prometheus config and rules (checked with ``promtool``, which must be installed:
Debian package ``prometheus``). The invariant at the centre: every metric a dashboard or rule uses is
exported by ``autotriage.core.metrics``, with the labels it is selected by.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from autotriage import stages as stage_registry

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.support.promql import collect_promql_expressions, iter_panels  # noqa: E402

COMPOSE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "deploy" / "Dockerfile"
PROMETHEUS_DIR = REPO_ROOT / "deploy" / "prometheus"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RECORDING_RULES = PROMETHEUS_DIR / "recording_rules.yml"
ALERT_RULES = PROMETHEUS_DIR / "alert_rules.yml"
GRAFANA_DIR = REPO_ROOT / "deploy" / "grafana"
DASHBOARDS_DIR = GRAFANA_DIR / "dashboards"
K8S_BASE = REPO_ROOT / "deploy" / "k8s" / "base"
K8S_OVERLAY = REPO_ROOT / "deploy" / "k8s" / "overlays" / "example"

DATASOURCE_UID = "autotriage-prometheus"
STAGES = stage_registry.NAMES
CONSUMING_STAGES = STAGES[1:]
REGISTRY = stage_registry.STAGES
NAMES = stage_registry.NAMES
STAGE_PACKAGES = {
    "normalizer": "normalizer",
    "taxonomy-cache": "taxonomy_cache",
    "classifier": "classifier",
    "writer": "writer",
}
SANDBOX_SERVICES = ("halo-sim", "connectwise-sim", "autotask-sim", "llm-sim")
DASHBOARD_FILES = ("overview.json", "cost.json", "tenant.json", "pipeline.json")
PANEL_TYPES = {"timeseries", "stat"}
PANEL_UNITS = {"s", "currencyUSD", "short", "percentunit", "bytes"}
PROMTOOL_MISSING = (
    "promtool is not installed: install Debian's `prometheus` package "
    "(apt-get update && apt-get install -y prometheus), which provides promtool"
)


# --- helpers ---------------------------------------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_yaml_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def health_ports() -> dict[str, int]:
    """Each stage's default health/metrics port, from the code that binds it."""
    from autotriage.app import HEALTH_PORTS

    return dict(HEALTH_PORTS)


def stage_input(stage: str) -> tuple[str, str]:
    """(consumer group, input topic) of a consuming stage, from its Stage class (default prefix)."""
    from autotriage.core.bus.topics import Topics
    from autotriage.core.runtime import Stage

    module = importlib.import_module(f"autotriage.{STAGE_PACKAGES[stage]}.stage")
    classes = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, Stage)
        and obj is not Stage
        and obj.__module__ == module.__name__
    ]
    assert len(classes) == 1, f"expected one Stage subclass in {module.__name__}, found {classes}"
    topics = Topics()
    return f"{topics.prefix}{classes[0].name}", topics.name(classes[0].input_topic)


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(PROMTOOL_MISSING)
    return path


def run_promtool(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def kustomization_files(directory: Path) -> list[Path]:
    """Every local file a kustomization.yaml refers to (resources, generator files, patches)."""
    kustomization = load_yaml(directory / "kustomization.yaml")
    files: list[Path] = [directory / entry for entry in kustomization.get("resources", [])]
    for generator in (
        *kustomization.get("configMapGenerator", []),
        *kustomization.get("secretGenerator", []),
    ):
        for entry in (*generator.get("files", []), *generator.get("envs", [])):
            files.append(directory / entry.split("=", 1)[-1])
    for patch in kustomization.get("patches", []):
        if "path" in patch:
            files.append(directory / patch["path"])
    return files


@pytest.fixture(scope="module")
def base_docs() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in kustomization_files(K8S_BASE):
        if path.is_file() and path.suffix in (".yaml", ".yml"):
            docs.extend(load_yaml_all(path))
    return docs


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any] | None:
    return next((d for d in docs if d.get("kind") == kind and d["metadata"]["name"] == name), None)


def topic_partitions(args: list[str]) -> int:
    assert "--partitions" in args, f"topic creation must pass --partitions explicitly: {args}"
    return int(args[args.index("--partitions") + 1])


# --- Dockerfile ------------------------------------------------------------------------------------------


def test_dockerfile_is_multi_stage_non_root_with_healthcheck() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    instructions = [line.split(None, 1) for line in text.splitlines() if re.match(r"^[A-Z]+\s", line)]
    keywords = [parts[0] for parts in instructions]
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", text, re.M)
    assert keywords.count("FROM") >= 2, "builder + runtime stages"
    assert "/opt/venv" in text
    # dependencies from the lock in their own layer, before the source is copied
    deps = text.index("pip install -c requirements.lock")
    assert text.index("COPY pyproject.toml requirements.lock ./") < deps < text.index("COPY libs ./libs")
    assert "pip install --no-deps" in text[text.index("COPY libs ./libs"):]
    user = [parts[1].strip() for parts in instructions if parts[0] == "USER"]
    assert user and user[-1].split(":")[0] not in ("0", "root"), "the runtime stage runs as a non-root user"
    assert 'ENTRYPOINT ["autotriage"]' in text
    assert 'CMD ["serve", "ingress"]' in text
    assert re.search(r"^EXPOSE 8080 9101-9104$", text, re.M)
    assert "HEALTHCHECK" in keywords
    assert "urllib.request" in text and "/livez" in text and "AUTOTRIAGE_HTTP_PORT" in text
    # The healthcheck's built-in port table must match the code's.
    table = dict(re.findall(r'"([a-z-]+)": "(\d+)"', text[text.index("STAGE_PORTS") :]))
    assert {k: int(v) for k, v in table.items()} == {
        k: v for k, v in health_ports().items() if k != "ingress"
    }


def test_the_stage_registry_names_each_stage_class_by_its_own_name() -> None:
    for spec in REGISTRY:
        assert spec.load().name == spec.name, spec
    assert len(set(NAMES)) == len(NAMES) and len({spec.port for spec in REGISTRY}) == len(REGISTRY)
    exposed = re.search(r"^EXPOSE (.+)$", DOCKERFILE.read_text(encoding="utf-8"), re.M)
    assert exposed is not None
    ports: set[int] = set()
    for item in exposed.group(1).split():
        low, _, high = item.partition("-")
        ports.update(range(int(low), int(high or low) + 1))
    assert ports == {spec.port for spec in REGISTRY}, "EXPOSE must list exactly the registry's ports"


def test_dockerignore_keeps_the_build_context_small() -> None:
    ignored = (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for entry in (".git", ".venv", "tests", "**/__pycache__"):
        assert entry in ignored
    for needed in ("libs", "services", "pyproject.toml"):
        assert needed not in ignored


# --- docker-compose --------------------------------------------------------------------------------------


def test_compose_stages(services: dict[str, dict[str, Any]]) -> None:
    ports = health_ports()
    for stage in STAGES:
        service = services.get(stage)
        assert service is not None, f"compose service {stage} missing"
        assert service["image"] == "autotriage:latest"
        assert service["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}
        assert service["command"] == ["serve", stage]
        env = service["environment"]
        assert env["AUTOTRIAGE_BUS"] == "kafka"
        assert env["AUTOTRIAGE_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert env["AUTOTRIAGE_TENANTS_FILE"] == "/etc/autotriage/tenants.yaml"
        assert env["AUTOTRIAGE_LOG_FORMAT"] == "json"
        assert int(env["AUTOTRIAGE_HTTP_PORT"]) == ports[stage]
        assert "./deploy/compose/tenants.yaml:/etc/autotriage/tenants.yaml:ro" in service["volumes"]
        test = " ".join(service["healthcheck"]["test"])
        assert f"127.0.0.1:{ports[stage]}/livez" in test, f"{stage} healthcheck must probe /livez on its port"
        assert service["depends_on"] == {"kafka-init": {"condition": "service_completed_successfully"}}


def test_compose_kafka_and_topic_init(services: dict[str, dict[str, Any]]) -> None:
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert str(env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]).lower() == "false", "topics are created explicitly"
    assert "/opt/kafka/bin/kafka-broker-api-versions.sh --bootstrap-server localhost:9092" in " ".join(
        kafka["healthcheck"]["test"]
    )
    init = services["kafka-init"]
    assert init["image"] == "autotriage:latest"
    assert init["command"][:2] == ["topics", "create"]
    assert topic_partitions(init["command"]) == 6
    assert init["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    assert init["restart"] == "no"


def test_compose_observability_and_published_ports(services: dict[str, dict[str, Any]]) -> None:
    published = {name: svc["ports"] for name, svc in services.items() if svc.get("ports")}
    assert published == {"ingress": ["8080:8080"], "grafana": ["3000:3000"], "prometheus": ["9090:9090"]}
    assert services["prometheus"]["image"].startswith("prom/prometheus")
    assert "./deploy/prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]
    grafana = services["grafana"]
    assert grafana["image"].startswith("grafana/grafana")
    assert grafana["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert grafana["environment"]["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in grafana["volumes"] if v.startswith("./"))
    provider = load_yaml(GRAFANA_DIR / "provisioning" / "dashboards" / "autotriage.yml")["providers"][0]
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./deploy/grafana/provisioning/datasources"] == "/etc/grafana/provisioning/datasources"
    assert mounts["./deploy/grafana/provisioning/dashboards"] == "/etc/grafana/provisioning/dashboards"


def test_compose_simulators_start_by_default(services: dict[str, dict[str, Any]]) -> None:
    """The example tenants file points at the simulators, so a plain `docker compose up` must start them."""
    optional = {"retrain"}  # the nightly feedback/retrain loop is opt-in (profile "loop")
    assert not [name for name, svc in services.items() if svc.get("profiles") and name not in optional]
    tenants = (REPO_ROOT / "deploy" / "compose" / "tenants.yaml").read_text(encoding="utf-8")
    for name in SANDBOX_SERVICES:
        assert name in tenants, f"the tenants file does not use {name}"
    for name in SANDBOX_SERVICES:
        svc = services[name]
        assert svc["image"] == "autotriage:latest"
        assert "healthcheck" in svc
    for name in ("halo-sim", "connectwise-sim", "autotask-sim"):
        command = services[name]["command"]
        assert command[:2] == ["sandbox", "--psa"] and command[2] == name.removesuffix("-sim")
        assert "0.0.0.0" in command, "simulators must listen beyond the container's loopback"
    assert services["llm-sim"]["entrypoint"] == ["python", "-m", "autotriage.sandbox.openai_server"]
    # The sandbox CLI really takes these options.
    from autotriage.cli import build_parser

    for name in ("halo-sim", "connectwise-sim", "autotask-sim"):
        build_parser().parse_args(services[name]["command"])


def test_model_files_are_a_read_only_volume_in_the_classifier(services: dict[str, dict[str, Any]]) -> None:
    assert "./models:/models:ro" in services["classifier"]["volumes"]
    assert "./deploy/compose/tenants.yaml:/etc/autotriage/tenants.yaml:ro" in services["classifier"]["volumes"]
    assert "./models:/models" in services["retrain"]["volumes"]  # the retrain job writes where the classifier reads
    documents = list(yaml.safe_load_all((K8S_BASE / "classifier.yaml").read_text(encoding="utf-8")))
    (deployment,) = [d for d in documents if d and d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    assert {"name": "models", "mountPath": "/models", "readOnly": True} in pod["containers"][0]["volumeMounts"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "models"]
    claims = [d for d in yaml.safe_load_all((K8S_BASE / "retrain-cronjob.yaml").read_text(encoding="utf-8"))
              if d and d["kind"] == "PersistentVolumeClaim"]
    assert [c["metadata"]["name"] for c in claims] == [volume["persistentVolumeClaim"]["claimName"]]


def test_the_namespace_is_created_before_the_secret() -> None:
    """`kubectl -n autotriage create secret` fails while the namespace does not exist: every instruction that
    creates the Secret creates the namespace first."""
    for path in [REPO_ROOT / "README.md", REPO_ROOT / "docs" / "deploy.md", K8S_OVERLAY / "kustomization.yaml"]:
        lines = path.read_text(encoding="utf-8").splitlines()
        for n, line in enumerate(lines):
            if "create secret generic autotriage-secrets" in line and "kubectl -n" in line:
                before = "\n".join(lines[max(0, n - 3):n])
                assert "namespace" in before, f"{path.name}:{n + 1}: create the namespace before the Secret"


def test_dockerfile_port_comment_matches_the_ports() -> None:
    text = (REPO_ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    from autotriage.app import HEALTH_PORTS

    assert "9100" not in text, "no stage listens on 9100 (`autotriage run` uses 8080)"
    assert "8080: ingress and `autotriage run`" in text
    assert f"EXPOSE {HEALTH_PORTS['ingress']} 9101-9104" in text


def test_compose_tenants_file_is_valid_and_its_secrets_are_passed(
    services: dict[str, dict[str, Any]],
) -> None:
    from autotriage.core.tenants import parse_tenants

    path = REPO_ROOT / "deploy" / "compose" / "tenants.yaml"
    tenants = parse_tenants(path.read_text(encoding="utf-8"), str(path))
    assert {t.psa.kind.value for t in tenants.tenants} == {"halo", "connectwise", "autotask"}
    refs = [ref for tenant in tenants.tenants for ref in tenant.secret_refs()]
    assert refs and all(ref.env for ref in refs), "compose example references secrets by env var"
    for stage in STAGES:
        missing = {ref.env for ref in refs} - set(services[stage]["environment"])
        assert not missing, (
            f"{stage} does not get the env vars the tenants file references: {sorted(missing)}"
        )


# --- Kubernetes (kustomize) ------------------------------------------------------------------------------


def test_kustomizations_refer_only_to_existing_files() -> None:
    for directory in (K8S_BASE, K8S_OVERLAY):
        for path in kustomization_files(directory):
            assert path.exists(), (
                f"{directory.relative_to(REPO_ROOT)}/kustomization.yaml lists missing {path.name}"
            )
    for doc in load_yaml_all(K8S_BASE / "kustomization.yaml"):
        assert "namespace" not in doc, "the base is namespace-less"


def test_k8s_base_is_namespace_less(base_docs: list[dict[str, Any]]) -> None:
    assert base_docs
    for doc in base_docs:
        assert "namespace" not in doc["metadata"], f"{doc['kind']}/{doc['metadata']['name']} sets a namespace"


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def test_k8s_deployment_per_stage(base_docs: list[dict[str, Any]]) -> None:
    ports = health_ports()
    config_keys = _base_config_keys()
    for stage in STAGES:
        deployment = find(base_docs, "Deployment", f"autotriage-{stage}")
        assert deployment is not None, f"no Deployment for {stage}"
        pod = deployment["spec"]["template"]["spec"]
        container = _container(deployment)
        assert container["args"] == ["serve", stage]
        named_ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert named_ports == {"http": ports[stage]}
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        assert env.get("AUTOTRIAGE_HTTP_PORT") == str(ports[stage])
        for probe, path in (("livenessProbe", "/livez"), ("readinessProbe", "/readyz")):
            get = container[probe]["httpGet"]
            assert get["path"] == path and get["port"] in ("http", ports[stage]), f"{stage} {probe}"
        resources = container["resources"]
        for section in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources[section]), f"{stage} resources.{section}"
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        # Settings from the ConfigMap (Kafka address included), secrets from the Secret.
        env_from = container["envFrom"]
        assert {"configMapRef": {"name": "autotriage-config"}} in env_from
        assert {"secretRef": {"name": "autotriage-secrets"}} in env_from
        assert "AUTOTRIAGE_KAFKA_BOOTSTRAP_SERVERS" in config_keys
        # The tenants ConfigMap at /etc/autotriage/tenants.yaml.
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        tenants = volumes["tenants"]["configMap"]
        assert tenants["name"] == "autotriage-tenants"
        assert {"key": "tenants.yaml", "path": "tenants.yaml"} in tenants["items"]
        assert mounts["tenants"]["mountPath"] == "/etc/autotriage"
        assert volumes["secrets"]["secret"]["secretName"] == "autotriage-secrets"
        assert "tmp" in mounts, "a writable /tmp next to the read-only root filesystem"
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(ports[stage])


def _base_config_keys() -> dict[str, str]:
    kustomization = load_yaml(K8S_BASE / "kustomization.yaml")
    generator = next(g for g in kustomization["configMapGenerator"] if g["name"] == "autotriage-config")
    return dict(literal.split("=", 1) for literal in generator["literals"])


def test_k8s_config_matches_the_mounts() -> None:
    config = _base_config_keys()
    assert config["AUTOTRIAGE_BUS"] == "kafka"
    assert config["AUTOTRIAGE_TENANTS_FILE"] == "/etc/autotriage/tenants.yaml"


def test_k8s_pdb_and_service_per_stage(base_docs: list[dict[str, Any]]) -> None:
    ports = health_ports()
    for stage in STAGES:
        deployment = find(base_docs, "Deployment", f"autotriage-{stage}")
        assert deployment is not None
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        pdb = find(base_docs, "PodDisruptionBudget", f"autotriage-{stage}")
        assert pdb is not None, f"no PodDisruptionBudget for {stage}"
        assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        assert "maxUnavailable" in pdb["spec"] or "minAvailable" in pdb["spec"]
        service = find(base_docs, "Service", f"autotriage-{stage}")
        assert service is not None, f"no Service for {stage}"
        assert service["spec"]["selector"].items() <= pod_labels.items()
        assert [p["port"] for p in service["spec"]["ports"]] == [ports[stage]]


def test_k8s_keda_scaled_objects(base_docs: list[dict[str, Any]]) -> None:
    job = find(base_docs, "Job", "autotriage-topics")
    assert job is not None, "a Job creates the topics"
    partitions = topic_partitions(_container_of_job(job)["args"])
    for stage in CONSUMING_STAGES:
        scaled = find(base_docs, "ScaledObject", f"autotriage-{stage}")
        assert scaled is not None, f"no ScaledObject for {stage}"
        spec = scaled["spec"]
        assert spec["scaleTargetRef"]["name"] == f"autotriage-{stage}"
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= partitions
        (trigger,) = spec["triggers"]
        assert trigger["type"] == "kafka"
        meta = trigger["metadata"]
        group, topic = stage_input(stage)
        assert meta["consumerGroup"] == group
        assert meta["topic"] == topic
        assert int(meta["lagThreshold"]) > 0
        assert (
            meta.get("bootstrapServers")
            or meta.get("bootstrapServersFromEnv") == "AUTOTRIAGE_KAFKA_BOOTSTRAP_SERVERS"
        )
        assert str(meta.get("allowIdleConsumers", "false")).lower() == "false"
    assert find(base_docs, "ScaledObject", "autotriage-ingress") is None, "ingress consumes no topic"


def _container_of_job(job: dict[str, Any]) -> dict[str, Any]:
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"][:2] == ["topics", "create"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] in ("OnFailure", "Never")
    return container


def test_k8s_ingress_stage_hpa_and_ingress(base_docs: list[dict[str, Any]]) -> None:
    hpa = find(base_docs, "HorizontalPodAutoscaler", "autotriage-ingress")
    assert hpa is not None
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "autotriage-ingress",
    }
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
    ingress = find(base_docs, "Ingress", "autotriage-ingress")
    assert ingress is not None
    backends = [p["backend"]["service"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert backends == [{"name": "autotriage-ingress", "port": {"name": "http"}}]
    paths = [p["path"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert paths == ["/webhooks"], "only the webhook endpoint is public"


def test_k8s_overlay() -> None:
    kustomization = load_yaml(K8S_OVERLAY / "kustomization.yaml")
    assert kustomization["namespace"]
    assert "../../base" in kustomization["resources"]
    (image,) = kustomization["images"]
    assert image["name"] == "autotriage" and image["newTag"]
    generators = {g["name"]: g for g in kustomization["configMapGenerator"]}
    assert generators["autotriage-tenants"]["files"] == ["tenants.yaml"]
    from autotriage.core.tenants import parse_tenants

    parse_tenants((K8S_OVERLAY / "tenants.yaml").read_text(encoding="utf-8"), "overlay tenants.yaml")
    for patch in kustomization.get("patches", []):
        if patch["target"]["kind"] == "ScaledObject":
            for op in yaml.safe_load(patch["patch"]):
                if op["path"] in ("/spec/maxReplicaCount", "/spec/minReplicaCount"):
                    assert op["value"] <= 6, "never more replicas than partitions"


def test_k8s_overlay_renders_with_kubectl() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed: the YAML checks above still ran")
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S_OVERLAY)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    namespace = load_yaml(K8S_OVERLAY / "kustomization.yaml")["namespace"]
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == namespace
    tenants = [
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("autotriage-tenants")
    ]
    assert len(tenants) == 1 and "tenants.yaml" in tenants[0]["data"]
    for doc in docs:
        if doc["kind"] == "Deployment":
            volumes = {v["name"]: v for v in doc["spec"]["template"]["spec"]["volumes"]}
            assert volumes["tenants"]["configMap"]["name"] == tenants[0]["metadata"]["name"]
        if doc["kind"] == "ScaledObject":
            assert doc["spec"]["maxReplicaCount"] <= 6


# --- Grafana ---------------------------------------------------------------------------------------------


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


@pytest.fixture(scope="module")
def dashboards() -> dict[str, dict[str, Any]]:
    found = {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(DASHBOARDS_DIR.glob("*.json"))
    }
    assert set(DASHBOARD_FILES) <= set(found)
    return found


def test_grafana_datasource_uid_is_pinned() -> None:
    (datasource,) = load_yaml(GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    assert datasource["uid"] == DATASOURCE_UID
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    provider = load_yaml(GRAFANA_DIR / "provisioning" / "dashboards" / "autotriage.yml")["providers"][0]
    assert provider["type"] == "file"


def test_dashboards_structure(dashboards: dict[str, dict[str, Any]]) -> None:
    uids = [board["uid"] for board in dashboards.values()]
    assert len(set(uids)) == len(uids)
    for name, board in dashboards.items():
        assert board["schemaVersion"] == 39, name
        assert board["title"] and board["uid"]
        panels = list(iter_panels(board["panels"]))
        assert panels, name
        ids = [panel["id"] for panel in panels]
        assert len(set(ids)) == len(ids), f"{name}: duplicate panel ids"
        boxes = []
        for panel in panels:
            where = f"{name}: panel {panel['id']} {panel['title']!r}"
            assert panel["type"] in PANEL_TYPES, where
            assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}, where
            assert panel["fieldConfig"]["defaults"].get("unit") in PANEL_UNITS, f"{where}: unit"
            assert panel["targets"], where
            ref_ids = [target["refId"] for target in panel["targets"]]
            assert len(set(ref_ids)) == len(ref_ids), where
            pos = panel["gridPos"]
            assert pos["x"] + pos["w"] <= 24, where
            boxes.append((pos["x"], pos["y"], pos["x"] + pos["w"], pos["y"] + pos["h"], where))
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                overlap = a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
                assert not overlap, f"{a[4]} overlaps {b[4]}"


def test_dashboards_datasource_pinned_everywhere(dashboards: dict[str, dict[str, Any]]) -> None:
    for name, board in dashboards.items():
        for node in _walk(board):
            if "datasource" in node:
                assert node["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}, f"{name}: {node}"
        for panel in iter_panels(board["panels"]):
            for target in panel["targets"]:
                assert target.get("datasource", {}).get("uid") == DATASOURCE_UID, f"{name}: {panel['title']}"


def test_tenant_dashboard_has_tenant_variable(dashboards: dict[str, dict[str, Any]]) -> None:
    board = dashboards["tenant.json"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    tenant = variables["tenant"]
    assert tenant["type"] == "query"
    assert tenant["datasource"]["uid"] == DATASOURCE_UID
    query = tenant["query"]["query"] if isinstance(tenant["query"], dict) else tenant["query"]
    assert re.sub(r"\s", "", query) == "label_values(autotriage_outcomes_total,tenant)"
    for panel in iter_panels(board["panels"]):
        for target in panel["targets"]:
            assert 'tenant="$tenant"' in target["expr"], (
                f"tenant.json {panel['title']!r} is not filtered by tenant"
            )


def test_dashboards_cover_what_they_promise(dashboards: dict[str, dict[str, Any]]) -> None:
    promised = {
        "overview.json": [
            "autotriage_outcomes_total",
            "autotriage_end_to_end_latency_seconds",
            "autotriage_dead_letter_total",
            "autotriage_retries_total",
        ],
        "cost.json": [
            "autotriage_llm_tokens_total",
            "autotriage_llm_cost_usd",
            'kind="cached"',
            'kind="prompt"',
        ],
        "pipeline.json": [
            "autotriage_consumer_lag_records",
            "autotriage_stage_in_flight",
            "autotriage_stage_processing_duration_seconds_bucket",
            "autotriage_retries_total",
            "changes(process_start_time_seconds[1h])",
            "autotriage_psa_api_requests_total",
            "autotriage_ingress_http_requests_total",
            "autotriage_webhook_signature_failures_total",
        ],
    }
    for name, needles in promised.items():
        exprs = "\n".join(t["expr"] for p in iter_panels(dashboards[name]["panels"]) for t in p["targets"])
        for needle in needles:
            assert needle in exprs, f"{name} shows nothing with {needle}"


# --- Prometheus ------------------------------------------------------------------------------------------


def test_prometheus_scrapes_every_stage_where_compose_runs_it(services: dict[str, dict[str, Any]]) -> None:
    config = load_yaml(PROMETHEUS_CONFIG)
    assert config["rule_files"] == ["recording_rules.yml", "alert_rules.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for stage in STAGES:
        job = jobs[f"autotriage-{stage}"]
        port = services[stage]["environment"]["AUTOTRIAGE_HTTP_PORT"]
        assert job["static_configs"] == [{"targets": [f"{stage}:{port}"]}]
        assert job["scrape_interval"] == "5s"
        assert job.get("metrics_path", "/metrics") == "/metrics"
    assert config["global"]["scrape_interval"] == "15s"


def _rules(path: Path) -> list[dict[str, Any]]:
    return [rule for group in load_yaml(path)["groups"] for rule in group["rules"]]


def test_recording_rule_names_follow_level_metric_operations() -> None:
    for rule in _rules(RECORDING_RULES):
        assert "record" in rule
        assert re.fullmatch(r"[a-z_]+:autotriage_[a-z0-9_]+:[a-z0-9_]+", rule["record"]), rule["record"]
        level = rule["record"].split(":")[0]
        grouping = re.match(r"^\s*(?:histogram_quantile\([^,]+,\s*)?sum by \(([^)]*)\)", rule["expr"])
        if grouping:  # the level names the labels the result keeps
            kept = [label.strip() for label in grouping.group(1).split(",") if label.strip() != "le"]
            if rule["record"].endswith("_bucket:rate5m"):
                kept.append("le")
            assert level == "_".join(kept), f"{rule['record']}: level should be {'_'.join(kept)}"


def test_alert_rules_have_for_severity_summary_description() -> None:
    alerts = _rules(ALERT_RULES)
    for rule in alerts:
        assert "alert" in rule
        assert "for" in rule, rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
    exprs = {rule["alert"]: rule["expr"] for rule in alerts}
    required = {
        "AutotriageDeadLetters": ["increase(autotriage_dead_letter_total[15m])"],
        "AutotriageEndToEndLatencySLO": ["autotriage_end_to_end_latency_seconds", "120"],
        "AutotriageLLMQuotaExhausted": ["autotriage_llm_quota_exhausted", "== 1"],
        "AutotriageWebhookSignatureFailures": ["autotriage_webhook_signature_failures_total"],
        "AutotriageConsumerStalled": [
            "autotriage_consumer_lag_records > 0",
            "changes(autotriage_consumer_last_progress_timestamp_seconds[10m]) == 0",
        ],
        "AutotriageStageUnhealthy": ["autotriage_stage_healthy == 0"],
        "AutotriageBudgetExhausted": ["autotriage_budget_exhausted_total"],
        "AutotriagePSAApiErrors": ["autotriage_psa_api_errors_per_requests"],
        "AutotriageTextWorkerRestarts": ["autotriage_text_worker_restarts_total"],
    }
    for alert, needles in required.items():
        assert alert in exprs, f"alert {alert} missing"
        for needle in needles:
            assert needle in exprs[alert], f"{alert}: expected {needle!r} in {exprs[alert]!r}"
    dead_letters = next(rule for rule in alerts if rule["alert"] == "AutotriageDeadLetters")
    assert dead_letters["for"] == "15m"


def test_promtool_check_config() -> None:
    result = run_promtool("check", "config", str(PROMETHEUS_CONFIG.relative_to(REPO_ROOT)))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_check_rules() -> None:
    result = run_promtool(
        "check", "rules", str(RECORDING_RULES.relative_to(REPO_ROOT)), str(ALERT_RULES.relative_to(REPO_ROOT))
    )
    assert result.returncode == 0, result.stdout + result.stderr


# Synthetic series for `promtool test rules`: each alert fires when it should and not otherwise.
# Annotations are compared verbatim by promtool, so the test runs on a copy of the alert rules without
# them (their presence is checked above, their template syntax by `promtool check rules`).


def _series(metric: str, values: str, **labels: str) -> dict[str, str]:
    """An input series; label names with a trailing underscore lose it (``job_`` for ``job``)."""
    body = ",".join(f'{name.rstrip("_")}="{value}"' for name, value in labels.items())
    return {"series": f"{metric}{{{body}}}", "values": values}


def _expect(eval_time: str, alert: str, *firing: dict[str, str]) -> dict[str, Any]:
    return {"eval_time": eval_time, "alertname": alert, "exp_alerts": [{"exp_labels": f} for f in firing]}


_C1 = {"job": "c", "instance": "c:1"}
_W1 = {"job": "w", "instance": "w:1"}
_I1 = {"job": "i", "instance": "i:1"}
_N1 = {"job": "n", "instance": "n:1"}
_WRITER = {"job": "autotriage-writer", "instance": "writer:9104"}

ALERT_UNIT_TESTS: list[dict[str, Any]] = [
    {
        "interval": "1m",
        "input_series": [
            _series("autotriage_dead_letter_total", "0+1x40", stage="writer", reason="psa_http_400", **_W1),
            _series(
                "autotriage_dead_letter_total", "0x40", stage="classifier", reason="content_filter", **_C1
            ),
        ],
        "alert_rule_test": [
            _expect("10m", "AutotriageDeadLetters"),  # not yet 15 minutes
            _expect(
                "30m",
                "AutotriageDeadLetters",
                {"severity": "warning", "stage": "writer", "reason": "psa_http_400"},
            ),
        ],
    },
    {
        "interval": "1m",
        "input_series": [
            # Every observation between 120 s and 300 s: p95 is above the SLO.
            *(
                _series(
                    "autotriage_end_to_end_latency_seconds_bucket",
                    values,
                    le=le,
                    tenant="acme",
                    action="applied",
                    **_WRITER,
                )
                for le, values in (("60", "0x40"), ("120", "0x40"), ("300", "0+10x40"), ("+Inf", "0+10x40"))
            ),
        ],
        "alert_rule_test": [
            _expect("5m", "AutotriageEndToEndLatencySLO"),
            _expect(
                "25m", "AutotriageEndToEndLatencySLO", {"severity": "warning", "job": "autotriage-writer"}
            ),
        ],
    },
    {
        "interval": "1m",
        "input_series": [
            _series("autotriage_llm_quota_exhausted", "1x10", tenant="acme", **_C1),
            _series("autotriage_llm_quota_exhausted", "1x10", tenant="acme", job="c", instance="c:2"),
            _series("autotriage_llm_quota_exhausted", "0x10", tenant="globex", **_C1),
        ],
        "alert_rule_test": [
            _expect("5m", "AutotriageLLMQuotaExhausted", {"severity": "critical", "tenant": "acme"}),
        ],
    },
    {
        "interval": "1m",
        "input_series": [
            # classifier: lag grows, no progress, then the watchdog reports it unhealthy.
            _series("autotriage_consumer_lag_records", "0+10x30", stage="classifier", **_C1),
            _series(
                "autotriage_consumer_last_progress_timestamp_seconds", "1000x30", stage="classifier", **_C1
            ),
            _series("autotriage_stage_healthy", "1x5 0x25", stage="classifier", **_C1),
            # writer: busy but progressing, healthy.
            _series("autotriage_consumer_lag_records", "50x30", stage="writer", **_W1),
            _series(
                "autotriage_consumer_last_progress_timestamp_seconds", "1000+60x30", stage="writer", **_W1
            ),
            _series("autotriage_stage_healthy", "1x30", stage="writer", **_W1),
        ],
        "alert_rule_test": [
            _expect(
                "20m", "AutotriageConsumerStalled", {"severity": "critical", "stage": "classifier", **_C1}
            ),
            _expect(
                "20m", "AutotriageStageUnhealthy", {"severity": "critical", "stage": "classifier", **_C1}
            ),
        ],
    },
    {
        "interval": "1m",
        "input_series": [
            _series("autotriage_budget_exhausted_total", "0x5 1+1x10", tenant="acme", period="day", **_C1),
            _series(
                "autotriage_webhook_signature_failures_total", "0+5x30", psa="halo", tenant="acme", **_I1
            ),
            _series(
                "autotriage_webhook_signature_failures_total", "0+0.1x30", psa="halo", tenant="globex", **_I1
            ),
            _series(
                "autotriage_webhook_deactivated_total", "0x5 1x25", psa="autotask", tenant="initech", **_I1
            ),
        ],
        "alert_rule_test": [
            _expect(
                "10m", "AutotriageBudgetExhausted", {"severity": "warning", "tenant": "acme", "period": "day"}
            ),
            _expect(
                "20m",
                "AutotriageWebhookSignatureFailures",
                {"severity": "warning", "psa": "halo", "tenant": "acme"},
            ),
            _expect(
                "8m",
                "AutotriageWebhookDeactivated",
                {"severity": "critical", "psa": "autotask", "tenant": "initech"},
            ),
        ],
    },
    {
        "interval": "1m",
        "input_series": [
            # connectwise: a third of the calls answered 503; halo: a few timeouts only.
            _series(
                "autotriage_psa_api_requests_total",
                "0+60x30",
                psa="connectwise",
                operation="get",
                status="200",
                **_N1,
            ),
            _series(
                "autotriage_psa_api_requests_total",
                "0+30x30",
                psa="connectwise",
                operation="get",
                status="503",
                **_N1,
            ),
            _series(
                "autotriage_psa_api_requests_total",
                "0+60x30",
                psa="halo",
                operation="get",
                status="200",
                **_N1,
            ),
            _series(
                "autotriage_psa_api_requests_total",
                "0+1x30",
                psa="halo",
                operation="get",
                status="timeout",
                **_N1,
            ),
        ],
        "alert_rule_test": [
            _expect("25m", "AutotriagePSAApiErrors", {"severity": "warning", "psa": "connectwise"}),
        ],
    },
    {
        "interval": "1m",
        "input_series": [
            _series("up", "1x5 0x20", **_WRITER),
            _series("process_start_time_seconds", "100x5 400x5 700x5 1000x5", **_WRITER),
            _series("autotriage_build_info", "1x30", version="0.1.0", **_WRITER),
            # Prometheus restarting is not an autotriage restart.
            _series(
                "process_start_time_seconds", "100x5 400x5 700x5 1000x5", job="prometheus", instance="p:9090"
            ),
        ],
        "alert_rule_test": [
            _expect("12m", "AutotriageTargetDown", {"severity": "critical", **_WRITER}),
            _expect("20m", "AutotriageRestarting", {"severity": "warning", **_WRITER}),
        ],
    },
    {
        "interval": "1m",
        "input_series": [
            # c:1 loses a text worker every 5 minutes from minute 10; w:1 once.
            _series("autotriage_text_worker_restarts_total", "0x10 1+0.2x20", **_C1),
            _series("autotriage_text_worker_restarts_total", "0x10 1x20", **_W1),
        ],
        "alert_rule_test": [
            _expect("12m", "AutotriageTextWorkerRestarts"),
            _expect("25m", "AutotriageTextWorkerRestarts", {"severity": "warning", **_C1}),
        ],
    },
    {
        "interval": "1m",
        "input_series": [
            # acme: 82 % agreement against a 90 % target on 200 tickets; globex: 85 % but only 20 tickets;
            # initech: 95 %, above target.
            _series("autotriage_feedback_agreement_ratio", "0.82x60", tenant="acme", mode="apply", level="full"),
            _series("autotriage_feedback_agreement_ratio", "0.5x60", tenant="acme", mode="apply", level="1"),
            _series("autotriage_feedback_agreement_target_ratio", "0.9x60", tenant="acme"),
            _series("autotriage_feedback_tickets", "164x60", tenant="acme", mode="apply", verdict="kept"),
            _series("autotriage_feedback_tickets", "36x60", tenant="acme", mode="apply", verdict="changed"),
            _series("autotriage_feedback_agreement_ratio", "0.85x60", tenant="globex", mode="apply", level="full"),
            _series("autotriage_feedback_agreement_target_ratio", "0.9x60", tenant="globex"),
            _series("autotriage_feedback_tickets", "17x60", tenant="globex", mode="apply", verdict="kept"),
            _series("autotriage_feedback_tickets", "3x60", tenant="globex", mode="apply", verdict="changed"),
            _series("autotriage_feedback_agreement_ratio", "0.95x60", tenant="initech", mode="apply", level="full"),
            _series("autotriage_feedback_agreement_target_ratio", "0.9x60", tenant="initech"),
            _series("autotriage_feedback_tickets", "95x60", tenant="initech", mode="apply", verdict="kept"),
        ],
        "alert_rule_test": [
            _expect("20m", "AutotriageAppliedAgreementLow"),  # not yet 30 minutes
            _expect("40m", "AutotriageAppliedAgreementLow", {"severity": "warning", "tenant": "acme"}),
        ],
    },
]


def test_alerts_fire_on_synthetic_series(tmp_path: Path) -> None:
    alert_rules = load_yaml(ALERT_RULES)
    for group in alert_rules["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / "alert_rules.yml").write_text(yaml.safe_dump(alert_rules), encoding="utf-8")
    shutil.copy(RECORDING_RULES, tmp_path / "recording_rules.yml")
    tests = {
        "rule_files": ["recording_rules.yml", "alert_rules.yml"],
        "evaluation_interval": "1m",
        "tests": ALERT_UNIT_TESTS,
    }
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests, sort_keys=False), encoding="utf-8")
    result = run_promtool("test", "rules", "tests.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    tested = {t["alertname"] for case in ALERT_UNIT_TESTS for t in case["alert_rule_test"]}
    assert tested == {rule["alert"] for rule in _rules(ALERT_RULES)}, "every alert has a firing test"


# --- the invariant: dashboards and rules use only metrics the code exports ----------------------------------

SAMPLE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
    "stateset": ("",),
    "enum": ("",),
    "unknown": ("",),
}
TARGET_LABELS = {"job", "instance"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_IDENTIFIER = re.compile(r"(?<![\w:.$])[a-zA-Z_:][a-zA-Z0-9_:]*")
_SELECTOR = re.compile(
    r"(?<![\w:])(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{(?P<body>(?:[^}\"]|\"(?:[^\"\\]|\\.)*\")*)\}"
)
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
_RATE_OF = re.compile(r"\b(?:rate|irate|increase)\s*\(\s*(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)")


class ExportedSeries:
    """What ``autotriage.core.metrics.REGISTRY`` can expose: sample names, their family type and labels."""

    def __init__(self) -> None:
        from prometheus_client.metrics import MetricWrapperBase

        from autotriage.core import metrics

        labels: dict[str, frozenset[str]] = {}
        for obj in vars(metrics).values():
            if isinstance(obj, MetricWrapperBase):
                labels[obj._name] = frozenset(obj._labelnames)
        # prometheus_client names a Counter family without "_total" (autotriage_outcomes) and adds the
        # suffixes per sample; collect() yields every family, also labelled ones with no children yet.
        self.samples: dict[str, tuple[str, str]] = {}
        self.family_labels: dict[str, frozenset[str] | None] = {}
        for family in [*metrics.REGISTRY.collect(), *metrics.FEEDBACK_REGISTRY.collect()]:
            for suffix in SAMPLE_SUFFIXES.get(family.type, ("",)):
                self.samples[family.name + suffix] = (family.name, family.type)
            # Families not defined in metrics.py (process_*, python_*) and Info labels: not checked.
            known = labels.get(family.name) if family.type != "info" else None
            self.family_labels[family.name] = known

    def allowed_labels(self, sample: str) -> frozenset[str] | None:
        family, _ = self.samples[sample]
        known = self.family_labels[family]
        if known is None:
            return None
        extra = {"le"} if sample.endswith("_bucket") else set()
        return known | TARGET_LABELS | extra


@pytest.fixture(scope="module")
def exported() -> ExportedSeries:
    return ExportedSeries()


@pytest.fixture(scope="module")
def expressions() -> list[tuple[str, str]]:
    found = collect_promql_expressions(REPO_ROOT)
    assert len(found) > 50, "expected the dashboards' and rules' expressions"
    return found


def test_collect_promql_expressions_covers_every_source(expressions: list[tuple[str, str]]) -> None:
    sources = {where.split(":", 1)[0] for where, _ in expressions}
    expected = {f"deploy/grafana/dashboards/{name}" for name in DASHBOARD_FILES}
    expected |= {"deploy/prometheus/recording_rules.yml", "deploy/prometheus/alert_rules.yml"}
    assert expected <= sources
    assert (
        "deploy/grafana/dashboards/tenant.json: variable tenant",
        "autotriage_outcomes_total",
    ) in expressions
    n_rules = len(_rules(RECORDING_RULES)) + len(_rules(ALERT_RULES))
    assert sum(1 for where, _ in expressions if where.startswith("deploy/prometheus/")) == n_rules


def test_every_referenced_metric_is_exported(
    exported: ExportedSeries, expressions: list[tuple[str, str]]
) -> None:
    recorded = {rule["record"] for rule in _rules(RECORDING_RULES)}
    problems: list[str] = []
    for where, expr in expressions:
        code = _STRING.sub('""', expr)
        for name in set(_IDENTIFIER.findall(code)):
            if ":" in name:
                if name not in recorded:
                    problems.append(f"{where}: recording rule {name} is not defined in recording_rules.yml")
            elif name.startswith(("autotriage_", "process_")) and name not in exported.samples:
                problems.append(f"{where}: {name} is not exported by autotriage.core.metrics")
    assert not problems, "\n".join(problems)


def test_selectors_use_labels_the_metric_has(
    exported: ExportedSeries, expressions: list[tuple[str, str]]
) -> None:
    problems: list[str] = []
    for where, expr in expressions:
        for match in _SELECTOR.finditer(expr):
            name = match.group("name")
            if name not in exported.samples:
                continue
            allowed = exported.allowed_labels(name)
            used = set(_MATCHER.findall(_STRING.sub('""', match.group("body"))))
            if allowed is not None and used - allowed:
                problems.append(
                    f"{where}: {name} has no label(s) {sorted(used - allowed)} (it has {sorted(allowed)})"
                )
    assert not problems, "\n".join(problems)


def test_rate_and_increase_only_on_counters(
    exported: ExportedSeries, expressions: list[tuple[str, str]]
) -> None:
    problems: list[str] = []
    for where, expr in expressions:
        for match in _RATE_OF.finditer(expr):
            name = match.group("name")
            if name in exported.samples:
                _family, kind = exported.samples[name]
                if kind not in ("counter", "histogram", "summary"):
                    problems.append(f"{where}: rate/increase of {name}, a {kind}")
    assert not problems, "\n".join(problems)


def test_invariant_catches_unknown_metrics(exported: ExportedSeries) -> None:
    """The checks above are not vacuous: names the code does not export are refused."""
    assert "autotriage_outcomes_total" in exported.samples
    assert "autotriage_end_to_end_latency_seconds_bucket" in exported.samples
    assert "autotriage_build_info" in exported.samples
    assert "process_start_time_seconds" in exported.samples
    assert "autotriage_outcomes" not in exported.samples, "a counter is only exposed with _total"
    assert "autotriage_end_to_end_latency_seconds" not in exported.samples, "a histogram has no bare series"
    assert "autotriage_llm_quota_exhausted_total" not in exported.samples, "a gauge has no _total"
    assert exported.allowed_labels("autotriage_llm_cost_usd_total") == frozenset(
        {"tenant", "model", "job", "instance"}
    )
