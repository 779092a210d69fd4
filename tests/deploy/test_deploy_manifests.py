"""compose.yaml, deploy/k8s, deploy/nats and deploy/prometheus, checked without a container engine.

No Docker engine or Kubernetes cluster runs here, so these tests check what can be checked
offline: the schemas (compose-spec, Kubernetes' own JSON schemas), that every service runs the
command the embedded runtime runs, that each gets exactly the variables its settings class
reads and enough of them to start, health checks and probes, replicas and autoscaling, that the
token keys reach the token service alone, and that nats-server accepts the NATS configs.
"""

from __future__ import annotations

import importlib.resources
import json
import re
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml
from embedded_servers import nats_server_binary
from pydantic_settings import BaseSettings

from admin_api.settings import AdminApiSettings
from common.metrics import MetricsSettings
from common.settings import NatsSettings, PostgresSettings
from common.streams import FETCHER_DURABLE, PAGES_STREAM, WINDOWS_STREAM, WRITER_DURABLE
from ebay_sandbox.settings import SandboxConfig
from ebaysync.runtime import LocalSecrets, Runtime, RuntimeOptions
from fetcher.settings import FetcherSettings
from scheduler.settings import SchedulerSettings
from token_service.settings import TokenServiceSettings
from writer.settings import WriterSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
COMPOSE_ENV = ROOT / "deploy" / "docker" / "compose.env.example"
K8S = ROOT / "deploy" / "k8s"
NATS_DIR = ROOT / "deploy" / "nats"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"
# The Kubernetes release the manifests are checked against (kubernetes-validate's schemas).
KUBERNETES_VERSION = "1.33"

SETTINGS: dict[str, type[BaseSettings]] = {
    "ebay-sandbox": SandboxConfig,
    "token-service": TokenServiceSettings,
    "scheduler": SchedulerSettings,
    "fetcher": FetcherSettings,
    "writer": WriterSettings,
    "admin-api": AdminApiSettings,
    # deploy/ops.py
    "migrate": PostgresSettings,
    "topology": NatsSettings,
}
FASTSTREAM_SERVICES = ("token-service", "scheduler", "fetcher", "writer")
# Where each NATS user's password is, in deploy/nats/accounts.conf.
NATS_USERS = {
    "scheduler": "NATS_PASSWORD_SCHEDULER",
    "token-service": "NATS_PASSWORD_TOKEN_SERVICE",
    "fetcher": "NATS_PASSWORD_FETCHER",
    "writer": "NATS_PASSWORD_WRITER",
    "admin-api": "NATS_PASSWORD_ADMIN_API",
    "topology": "NATS_PASSWORD_ADMIN",
}


# --- helpers ----------------------------------------------------------------------------------


def runtime_commands() -> dict[str, list[str]]:
    """What ``ebaysync up`` runs per service, without the interpreter and ``-m``."""
    with tempfile.TemporaryDirectory() as directory:
        runtime = Runtime(RuntimeOptions(data_dir=Path(directory)))
        local = LocalSecrets.load_or_create(Path(directory) / "secrets.json")
        specs = runtime._specs(
            "nats://nats:4222", "postgresql+asyncpg://u@db/x", "http://sb", 8900, local
        )
    commands = {}
    for spec in specs:
        assert spec.argv[1] == "-m", spec.argv
        commands[spec.name] = normalized(spec.argv[2:])
    return commands


def normalized(argv: list[str]) -> list[str]:
    """Listen addresses differ by design (loopback here, all interfaces in a container)."""
    out = list(argv)
    for flag in ("--host", "--port"):
        if flag in out:
            out[out.index(flag) + 1] = "<" + flag.strip("-") + ">"
    return out


def env_names(settings: type[BaseSettings]) -> set[str]:
    """Every environment variable a settings class reads, nested settings included."""
    config = settings.model_config
    prefix = str(config.get("env_prefix") or "")
    delimiter = config.get("env_nested_delimiter")
    names: set[str] = set()
    for name, field in settings.model_fields.items():
        assert field.alias is None and field.validation_alias is None, (settings, name)
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseSettings):
            names |= env_names(kind)  # its default factory reads its own prefix
            if delimiter:
                names |= {f"{prefix}{name}{delimiter}{sub}".upper() for sub in kind.model_fields}
        else:
            names.add(f"{prefix}{name}".upper())
    return names


ALL_NAMES = set().union(*(env_names(s) for s in SETTINGS.values()))


def build_settings(
    settings: type[BaseSettings], env: Mapping[str, str], monkeypatch: pytest.MonkeyPatch
) -> BaseSettings:
    """Instantiate ``settings`` from ``env`` alone: it must validate (required fields set)."""
    for name in ALL_NAMES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return settings()


_VARIABLE = re.compile(r"\$(?:\$|\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})")


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's variable substitution: ${X}, ${X:-default}, ${X-default}, ${X:?err}, $$."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        current = env.get(name)
        if op in (":-", "-"):
            unset = current is None or (op == ":-" and current == "")
            return arg if unset else str(current)
        if op in (":?", "?") and (current is None or (op == ":?" and current == "")):
            raise KeyError(f"compose needs {name}: {arg}")
        return current or ""

    return _VARIABLE.sub(substitute, value)


def read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[name.strip()] = value
    return env


def config_variables(*paths: Path) -> set[str]:
    """``$NAME`` references of nats-server config files (quoted strings are literal)."""
    names: set[str] = set()
    for path in paths:
        for line in path.read_text().splitlines():
            code = re.sub(r'"[^"]*"', "", line.split("#", 1)[0])
            names |= set(re.findall(r"\$([A-Z][A-Z0-9_]*)", code))
    return names


def nats_test_env() -> dict[str, str]:
    env = {
        name: "secret"
        for name in config_variables(NATS_DIR / "nats.conf", NATS_DIR / "accounts.conf")
    }
    env["NATS_ROUTES"] = '["nats://route:secret@127.0.0.1:6222"]'
    env["NATS_SERVER_NAME"] = "nats-0"
    return env


# --- compose.yaml -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


@pytest.fixture(scope="module")
def compose_env() -> dict[str, str]:
    return read_env_file(COMPOSE_ENV)


def service_environment(service: dict[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    environment = service.get("environment") or {}
    assert isinstance(environment, dict), "use the mapping form of environment"
    return {k: interpolate(str(v), env) for k, v in environment.items()}


def test_compose_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads(vendor.joinpath("compose-spec.json").read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    errors = sorted(validator_class(schema).iter_errors(compose), key=str)
    assert errors == [], [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def test_compose_runs_every_service_of_the_runtime_with_its_command(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for name, command in runtime_commands().items():
        assert name in services, f"{name} is missing from compose.yaml"
        assert normalized(services[name]["command"]) == command, name


def test_compose_gives_each_service_the_variables_it_reads_and_enough_to_start(
    compose: dict[str, Any], compose_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, settings in SETTINGS.items():
        environment = service_environment(compose["services"][name], compose_env)
        unread = set(environment) - env_names(settings)
        assert unread == set(), f"{name} gets variables its settings never read: {unread}"
        build_settings(settings, environment, monkeypatch)
    # The token encryption keys reach the token service and nothing else.
    holders = {
        name
        for name, service in compose["services"].items()
        if any(k.startswith("TOKEN_SERVICE_KEYS") for k in (service.get("environment") or {}))
    }
    assert holders == {"token-service"}


def test_compose_needs_every_secret_from_the_example_env(compose_env: dict[str, str]) -> None:
    text = COMPOSE.read_text()
    required = {m.group("name") for m in _VARIABLE.finditer(text) if m.group("op") in (":?", "?")}
    assert required <= compose_env.keys(), required - compose_env.keys()
    with pytest.raises(KeyError, match="TOKEN_SERVICE_KEYS"):
        interpolate(text, {k: v for k, v in compose_env.items() if k != "TOKEN_SERVICE_KEYS"})


def test_compose_services_are_health_checked_and_workers_replicated(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for name in [*runtime_commands(), "nats", "postgres", "prometheus"]:
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no health check"
    for name in FASTSTREAM_SERVICES:
        check = " ".join(services[name]["healthcheck"]["test"])
        assert f":{MetricsSettings.model_fields['port'].default}/metrics" in check, name
    for name in ("fetcher", "writer"):
        assert services[name]["deploy"]["replicas"] >= 2, name
    # Services start after the deploy steps, which run deploy/ops.py.
    for name in [*FASTSTREAM_SERVICES, "admin-api"]:
        depends = services[name]["depends_on"]
        for step in ("migrate", "topology"):
            assert depends[step]["condition"] == "service_completed_successfully", (name, step)
    assert services["migrate"]["command"][-2:] == ["/app/ops.py", "migrate"]
    assert services["topology"]["command"][1:3] == ["/app/ops.py", "topology"]


def test_compose_connects_each_service_as_its_own_nats_user(
    compose: dict[str, Any], compose_env: dict[str, str]
) -> None:
    services = compose["services"]
    nats_env = service_environment(services["nats"], compose_env)
    conf = NATS_DIR / "single.conf"
    assert config_variables(conf, NATS_DIR / "accounts.conf") <= nats_env.keys()
    for name, password_variable in NATS_USERS.items():
        url = urlsplit(service_environment(services[name], compose_env)["NATS_URL"])
        expected_user = "admin" if name == "topology" else name
        assert (url.username, url.password) == (expected_user, nats_env[password_variable]), name
        assert url.hostname == "nats"
    mounted = {v.split(":")[0] for v in services["nats"]["volumes"] if isinstance(v, str)}
    assert "./deploy/nats" in mounted


def test_prometheus_scrapes_every_service_and_jetstream(compose: dict[str, Any]) -> None:
    config = yaml.safe_load(PROMETHEUS.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    [dns] = jobs["ebaysync"]["dns_sd_configs"]
    assert set(dns["names"]) == set(FASTSTREAM_SERVICES)
    assert dns["port"] == MetricsSettings.model_fields["port"].default
    # The admin API serves /metrics/ on its HTTP port (8000 in compose).
    [admin] = jobs["admin-api"]["dns_sd_configs"]
    assert admin["names"] == ["admin-api"]
    assert jobs["admin-api"]["metrics_path"] == "/metrics/"
    assert any(p.endswith(f":{admin['port']}") for p in compose["services"]["admin-api"]["ports"])
    [exporter] = jobs["nats"]["static_configs"][0]["targets"]
    host, port = exporter.split(":")
    assert host in compose["services"] and f"-port {port}" in " ".join(
        compose["services"][host]["command"]
    )
    assert "-jsz=all" in compose["services"][host]["command"]
    prometheus = compose["services"]["prometheus"]
    assert any("deploy/prometheus/prometheus.yml" in v for v in prometheus["volumes"])


# --- NATS configs ------------------------------------------------------------------------------


@pytest.mark.parametrize("conf", ["nats.conf", "single.conf"])
def test_nats_server_accepts_the_configs_and_refuses_them_without_the_secrets(conf: str) -> None:
    binary = str(nats_server_binary())
    path = str(NATS_DIR / conf)
    ok = subprocess.run(
        [binary, "-c", path, "-t"], env=nats_test_env(), capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0, ok.stderr + ok.stdout
    missing = {k: v for k, v in nats_test_env().items() if k != "NATS_PASSWORD_FETCHER"}
    refused = subprocess.run(
        [binary, "-c", path, "-t"], env=missing, capture_output=True, text=True, check=False
    )
    assert refused.returncode != 0
    assert "NATS_PASSWORD_FETCHER" in refused.stderr + refused.stdout


# --- Kubernetes ---------------------------------------------------------------------------------


def kustomize_documents(directory: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """The resources a kustomization lists (recursively), and its generated ConfigMaps.

    Also checks that every manifest in the directory is listed (nothing forgotten) and that
    every file a generator reads exists in the directory itself (kustomize's load rules).
    """
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    listed = set()
    for resource in kustomization.get("resources", []):
        path = (directory / resource).resolve()
        if path.is_dir():
            yield from kustomize_documents(path)
            continue
        listed.add(path.name)
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                yield path, document
    for generator in kustomization.get("configMapGenerator", []):
        data = {}
        for file in generator["files"]:
            assert "/" not in file, f"kustomize loads generator files from {directory} only"
            data[file] = (directory / file).read_text()
        yield (
            directory / "kustomization.yaml",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": generator["name"]},
                "data": data,
            },
        )
    manifests = {
        p.name
        for p in directory.glob("*.yaml")
        if p.name != "kustomization.yaml" and not p.name.endswith(".example.yaml")
    }
    assert manifests == listed, f"{directory}: not in the kustomization: {manifests - listed}"


@pytest.fixture(scope="module")
def k8s() -> list[tuple[Path, dict[str, Any]]]:
    return list(kustomize_documents(K8S))


def by_kind(documents: list[tuple[Path, dict[str, Any]]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for _, d in documents if d["kind"] == kind}


# KEDA's ScaledObject is a custom resource, outside Kubernetes' schemas: the fields we use.
SCALED_OBJECT_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["scaleTargetRef", "triggers"],
            "properties": {
                "scaleTargetRef": {
                    "type": "object",
                    "required": ["name"],
                    "additionalProperties": False,
                    "properties": {
                        "name": {"type": "string"},
                        "kind": {"type": "string"},
                        "apiVersion": {"type": "string"},
                    },
                },
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "pollingInterval": {"type": "integer", "minimum": 1},
                "cooldownPeriod": {"type": "integer", "minimum": 0},
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["type", "metadata"],
                        "properties": {
                            "type": {"type": "string"},
                            # KEDA reads trigger metadata as strings only.
                            "metadata": {
                                "type": "object",
                                "additionalProperties": {"type": "string"},
                            },
                        },
                    },
                },
            },
        },
    },
}
NATS_JETSTREAM_METADATA = {
    "natsServerMonitoringEndpoint",
    "account",
    "stream",
    "consumer",
    "lagThreshold",
    "activationLagThreshold",
    "useHttps",
}


def test_kubernetes_manifests_follow_the_kubernetes_schemas(
    k8s: list[tuple[Path, dict[str, Any]]],
) -> None:
    for path, document in k8s:
        if document["kind"] == "ScaledObject":
            jsonschema.validate(document, SCALED_OBJECT_SCHEMA)
            continue
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            raise AssertionError(
                f"{path.name} {document['kind']}/{document['metadata']['name']}: "
                f"{'.'.join(map(str, exc.path))}: {exc.message}"
            ) from None


def containers(documents: list[tuple[Path, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """The container of every Deployment and Job, by workload name."""
    found = {}
    for kind in ("Deployment", "Job"):
        for name, workload in by_kind(documents, kind).items():
            [container] = workload["spec"]["template"]["spec"]["containers"]
            found[name] = container
    return found


def test_kubernetes_runs_a_deployment_per_service_with_the_runtime_commands(
    k8s: list[tuple[Path, dict[str, Any]]],
) -> None:
    deployments = by_kind(k8s, "Deployment")
    commands = runtime_commands()
    del commands["ebay-sandbox"]  # development and tests only
    assert set(deployments) == set(commands)
    for name, command in commands.items():
        [container] = deployments[name]["spec"]["template"]["spec"]["containers"]
        assert normalized(container["command"]) == command, name
        assert container["image"] == f"ebaysync/{name}"
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert probe in container, (name, probe)
        limits = container["resources"]
        assert {"cpu", "memory"} <= limits["requests"].keys() <= limits["limits"].keys(), name
    admin = deployments["admin-api"]["spec"]["template"]["spec"]["containers"][0]
    assert admin["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert admin["livenessProbe"]["httpGet"]["path"] == "/healthz"
    jobs = containers(k8s)
    assert jobs["ebaysync-migrate"]["command"] == ["python", "/app/ops.py", "migrate"]
    assert jobs["ebaysync-topology"]["command"] == [
        "python",
        "/app/ops.py",
        "topology",
        "--replicas",
        "3",
    ]


def test_kubernetes_gives_each_workload_what_its_settings_read_and_the_keys_to_one(
    k8s: list[tuple[Path, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    [config] = [
        d for _, d in k8s if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "ebaysync-config"
    ]
    secrets = {
        d["metadata"]["name"]: d["stringData"]
        for d in yaml.safe_load_all((K8S / "secrets.example.yaml").read_text())
    }
    workloads = {"ebaysync-migrate": "migrate", "ebaysync-topology": "topology"}
    for name, container in containers(k8s).items():
        env: dict[str, str] = {}
        for variable in container.get("env", []):
            ref = variable.get("valueFrom", {}).get("configMapKeyRef")
            if ref is not None:
                assert ref["name"] == "ebaysync-config"
                env[variable["name"]] = config["data"][ref["key"]]
            else:
                env[variable["name"]] = variable["value"]
        mounted = [s["secretRef"]["name"] for s in container.get("envFrom", [])]
        assert len(mounted) == 1, f"{name} mounts one Secret of its own: {mounted}"
        env |= secrets[mounted[0]]
        settings = SETTINGS[workloads.get(name, name)]
        unread = set(env) - env_names(settings)
        assert unread == set(), f"{name} gets variables its settings never read: {unread}"
        build_settings(settings, env, monkeypatch)
        if "TOKEN_SERVICE_KEYS" in env:
            assert name == "token-service", f"{name} must not get the token keys"
        url = env.get("NATS_URL")
        if url is not None:
            parts = urlsplit(url)
            assert parts.username == ("admin" if name == "ebaysync-topology" else name), name
            assert parts.hostname == "nats.ebaysync.svc.cluster.local", name


def test_keda_scales_fetcher_and_writer_on_their_consumer_lag(
    k8s: list[tuple[Path, dict[str, Any]]],
) -> None:
    scaled = by_kind(k8s, "ScaledObject")
    deployments = by_kind(k8s, "Deployment")
    headless = by_kind(k8s, "Service")["nats-headless"]
    monitor_port = next(p["port"] for p in headless["spec"]["ports"] if p["name"] == "monitor")
    nats_conf = (NATS_DIR / "nats.conf").read_text()
    assert re.search(rf"^http_port: {monitor_port}$", nats_conf, re.M)
    account = re.search(
        r"^  (\w+) \{\n    jetstream: enabled", (NATS_DIR / "accounts.conf").read_text(), re.M
    )
    assert account is not None
    expected = {
        "fetcher": (WINDOWS_STREAM, FETCHER_DURABLE),
        "writer": (PAGES_STREAM, WRITER_DURABLE),
    }
    assert set(scaled) == set(expected)
    for name, (stream, consumer) in expected.items():
        spec = scaled[name]["spec"]
        assert spec["scaleTargetRef"]["name"] == name and name in deployments
        # KEDA owns the replicas: a fixed count in the Deployment would fight it on every apply.
        assert "replicas" not in deployments[name]["spec"]
        assert spec["minReplicaCount"] >= 2 and spec["maxReplicaCount"] > spec["minReplicaCount"]
        [trigger] = spec["triggers"]
        assert trigger["type"] == "nats-jetstream"
        metadata = trigger["metadata"]
        assert metadata.keys() <= NATS_JETSTREAM_METADATA
        assert (metadata["stream"], metadata["consumer"]) == (stream, consumer)
        assert metadata["account"] == account.group(1)
        assert int(metadata["lagThreshold"]) > 0
        host, port = metadata["natsServerMonitoringEndpoint"].rsplit(":", 1)
        assert host.split(".")[:2] == ["nats-headless", "ebaysync"] and int(port) == monitor_port


def test_the_nats_cluster_has_three_nodes_with_every_config_variable_set(
    k8s: list[tuple[Path, dict[str, Any]]],
) -> None:
    [statefulset] = by_kind(k8s, "StatefulSet").values()
    assert statefulset["spec"]["replicas"] == 3
    [container] = statefulset["spec"]["template"]["spec"]["containers"]
    provided = {e["name"] for e in container["env"]}
    assert config_variables(NATS_DIR / "nats.conf", NATS_DIR / "accounts.conf") <= provided
    routes = next(e["value"] for e in container["env"] if e["name"] == "NATS_ROUTES")
    hosts = re.findall(r"@(nats-\d)\.nats-headless:6222", routes)
    assert hosts == ["nats-0", "nats-1", "nats-2"]
    configs = by_kind(k8s, "ConfigMap")["nats-config"]["data"]
    assert configs["nats.conf"] == (NATS_DIR / "nats.conf").read_text()
    assert configs["accounts.conf"] == (NATS_DIR / "accounts.conf").read_text()
    assert "include ./accounts.conf" in configs["nats.conf"]
    assert container["args"][:2] == ["-c", "/etc/nats/nats.conf"]
