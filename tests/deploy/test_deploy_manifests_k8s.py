"""deploy/k8s, checked without a cluster: Kubernetes' own JSON schemas, a Deployment per service
with the runtime's commands, the variables each workload's settings read, the token keys to the
token service alone, KEDA autoscaling on consumer lag, and the three-node NATS cluster.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml

from common.streams import FETCHER_DURABLE, PAGES_STREAM, WINDOWS_STREAM, WRITER_DURABLE
from testkit.deploy_config import (
    NATS_DIR,
    ROOT,
    SETTINGS,
    build_settings,
    config_variables,
    env_names,
    normalized,
    runtime_commands,
)

K8S = ROOT / "deploy" / "k8s"


# The Kubernetes release the manifests are checked against (kubernetes-validate's schemas).
KUBERNETES_VERSION = "1.33"


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
