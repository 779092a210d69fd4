"""The AsyncAPI document (common/asyncapi.yaml) covers every message and never goes stale."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote

import yaml

from common import messages

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "libs/common/src/common/asyncapi.yaml"


def load_generator() -> ModuleType:
    path = ROOT / "scripts" / "gen_asyncapi.py"
    spec = importlib.util.spec_from_file_location("ebaysync_gen_asyncapi", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def contracts() -> dict[str, type[messages.Message]]:
    """Every concrete message model of common.messages."""
    return {
        name: model
        for name, model in inspect.getmembers(messages, inspect.isclass)
        if issubclass(model, messages.Message)
        and model.__module__ == messages.__name__
        and model not in (messages.Message, messages.RunMessage)
    }


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[unquote(part)]
    return node


def test_the_committed_document_is_what_the_generator_makes() -> None:
    assert DOCUMENT.read_text() == load_generator().render(), (
        "common/asyncapi.yaml is stale: run `uv run python scripts/gen_asyncapi.py`"
    )


def test_every_message_contract_and_subject_is_documented() -> None:
    document = yaml.safe_load(DOCUMENT.read_text())
    assert document["asyncapi"].startswith("3.")
    schemas = document["components"]["schemas"]
    for name, model in contracts().items():
        assert name in schemas, f"{name} is not in the AsyncAPI document"
        documented = set(schemas[name]["properties"])
        assert documented == set(model.model_fields), name
    addresses = {channel["address"] for channel in document["channels"].values()}
    for name, model in contracts().items():
        subject = getattr(model, "SUBJECT", None) or getattr(model, "SUBJECT_PREFIX", None)
        if subject is not None:
            assert any(a.startswith(subject) for a in addresses), (name, subject)
    # Every reference resolves: operations to channels, channels to messages, to schemas.
    for operation in document["operations"].values():
        channel = resolve(document, operation["channel"]["$ref"])
        for message in operation["messages"]:
            resolve(document, message["$ref"])
        assert channel["address"]
    for message in document["components"]["messages"].values():
        resolve(document, message["payload"]["$ref"])
