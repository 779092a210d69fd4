"""What the deploy tests (tests/deploy) check the manifests against: the repository's deploy
folders, each deployed program's settings class and the variables it reads, and the commands
the embedded runtime runs. testkit is a workspace member installed from the checkout, so the
repository root is found from this file."""

from __future__ import annotations

import importlib.util
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

import pytest
from pydantic_settings import BaseSettings

from admin_api.settings import AdminApiSettings
from common.settings import NatsSettings, PostgresSettings
from ebay_sandbox.settings import SandboxConfig
from ebaysync.runtime import LocalSecrets, Runtime, RuntimeOptions
from fetcher.settings import FetcherSettings
from scheduler.settings import SchedulerSettings
from token_service.settings import TokenServiceSettings
from writer.settings import WriterSettings

ROOT = Path(__file__).resolve().parents[4]


NATS_DIR = ROOT / "deploy" / "nats"


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


def config_variables(*paths: Path) -> set[str]:
    """``$NAME`` references of nats-server config files (quoted strings are literal)."""
    names: set[str] = set()
    for path in paths:
        for line in path.read_text().splitlines():
            code = re.sub(r'"[^"]*"', "", line.split("#", 1)[0])
            names |= set(re.findall(r"\$([A-Z][A-Z0-9_]*)", code))
    return names


def load_ops() -> ModuleType:
    """deploy/ops.py, the deploy step that declares the topology (the topology Job of
    deploy/k8s/topology-job.yaml); not an installed module."""
    spec = importlib.util.spec_from_file_location("ebaysync_deploy_ops", ROOT / "deploy" / "ops.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
