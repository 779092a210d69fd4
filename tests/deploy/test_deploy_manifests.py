"""compose.yaml, deploy/nats and deploy/prometheus, checked without a container engine: the
compose-spec schema, that every service runs the command the embedded runtime runs, that each
gets exactly the variables its settings class reads and enough of them to start, health checks
and replicas, and that nats-server accepts the NATS configs. Kubernetes: test_deploy_manifests_k8s.
"""

from __future__ import annotations

import importlib.resources
import json
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from embedded_servers import nats_server_binary

from common.metrics import MetricsSettings
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

COMPOSE = ROOT / "compose.yaml"
COMPOSE_ENV = ROOT / "deploy" / "docker" / "compose.env.example"


PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"


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
