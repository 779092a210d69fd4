"""Validators of eBay's published contracts: OpenAPI ``components.schemas``, JSON Schema
``$defs`` and the element shapes of Trading XML samples. The contract files themselves live
with the sandbox's tests (services/ebay-sandbox/tests/contracts)."""

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from testkit.sandbox_client import NS, Json

DATE_FIELD = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
AMOUNT_VALUE = re.compile(r"^-?\d+\.\d{2}$")


def _schema(node: Any) -> Any:
    """OpenAPI schema object -> JSON Schema 2020-12, made strict (no unknown properties)."""
    if isinstance(node, list):
        return [_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out: Json = {}
    for key, value in node.items():
        if key in ("description", "example", "nullable", "x-ebay-enum"):
            continue
        if key == "properties":
            out[key] = {name: _schema(sub) for name, sub in value.items()}
        elif key == "$ref":
            out[key] = "urn:ebay:" + value.removeprefix("#/components/schemas/")
        else:
            out[key] = _schema(value)
    # eBay's specs declare enum types as "type": "object" although the values are strings.
    if "enum" in out and out.get("type") == "object":
        out["type"] = "string"
    if node.get("nullable") is True and "type" in out:
        out["type"] = [out["type"], "null"]
    if out.get("type") == "object" and "properties" in out:
        out["additionalProperties"] = False
    return out


class SpecValidator:
    """Validates instances against ``components.schemas`` of an OpenAPI document."""

    def __init__(self, spec_file: Path) -> None:
        spec = json.loads(spec_file.read_text())
        self.schemas: dict[str, Json] = {
            name: _schema(s) for name, s in spec["components"]["schemas"].items()
        }
        resources = [
            (f"urn:ebay:{name}", Resource.from_contents(s, default_specification=DRAFT202012))
            for name, s in self.schemas.items()
        ]
        self.registry: Registry[Any] = Registry().with_resources(resources)

    def errors(self, name: str, instance: Any) -> list[str]:
        validator = Draft202012Validator({"$ref": f"urn:ebay:{name}"}, registry=self.registry)
        return [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(instance)
        ]

    def validate(self, name: str, instance: Any) -> None:
        problems = self.errors(name, instance)
        assert not problems, "\n".join(problems[:20])
        assert_ebay_formats(instance)


def assert_ebay_formats(node: Any, path: str = "") -> None:
    """Dates are ``...sssZ`` and Amount values are two-decimal strings, everywhere."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            assert_ebay_formats(item, f"{path}[{i}]")
    elif isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}"
            if key.endswith("Date") and isinstance(value, str):
                assert DATE_FIELD.match(value), f"{where}={value!r}"
            if key == "value" and "currency" in node:
                assert isinstance(value, str), where
                assert AMOUNT_VALUE.match(value), f"{where}={value!r}"
            assert_ebay_formats(value, where)


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
_DURATION = re.compile(r"^P(\d+D)?T(\d+H)?(\d+M)?(\d+S)?$")


def _kind(text: str) -> str:
    text = text.strip()
    if text in ("true", "false"):
        return "bool"
    if _ISO.match(text):
        return "datetime"
    if _DURATION.match(text):
        return "duration"
    if re.match(r"^-?\d+\.\d+$", text):
        return "decimal"
    if re.match(r"^-?\d+$", text):
        return "int"
    return "text"


_COMPATIBLE = {"decimal": {"decimal", "int"}, "int": {"int"}, "bool": {"bool"}}


class XmlShape:
    """Element paths, attributes and value kinds of eBay's Trading samples: a response may use
    only what the samples show (root ``*Response`` elements are merged into one shape)."""

    def __init__(self, files: list[Path], extra: dict[str, str] | None = None) -> None:
        self.kinds: dict[str, set[str]] = {}
        self.attributes: dict[str, set[str]] = {}
        for file in files:
            self._learn(ET.fromstring(file.read_bytes()), "Response")
        for path, kind in (extra or {}).items():
            self.kinds.setdefault(path, set()).add(kind)
            self.attributes.setdefault(path, set())

    def _learn(self, element: ET.Element, path: str) -> None:
        self.attributes.setdefault(path, set()).update(element.attrib)
        children = list(element)
        kinds = self.kinds.setdefault(path, set())
        if children:
            kinds.add("node")
        elif element.text and element.text.strip():
            kinds.add(_kind(element.text))
        for child in children:
            self._learn(child, f"{path}/{child.tag.removeprefix(NS)}")

    def errors(self, body: bytes) -> list[str]:
        root = ET.fromstring(body)
        problems = [] if root.tag.endswith("Response") else [f"root {root.tag}"]
        for name in ("Timestamp", "Ack", "Version", "Build"):
            if root.find(NS + name) is None:
                problems.append(f"missing {name}")
        self._check(root, "Response", problems)
        return problems

    def _check(self, element: ET.Element, path: str, problems: list[str]) -> None:
        if path not in self.kinds:
            problems.append(f"unknown element {path}")
            return
        unknown = set(element.attrib) - self.attributes[path]
        if unknown:
            problems.append(f"{path}: unknown attributes {unknown}")
        children = list(element)
        allowed = self.kinds[path]
        if children:
            if "node" not in allowed:
                problems.append(f"{path}: has children, samples show a value")
        elif element.text and element.text.strip():
            kind = _kind(element.text)
            if "text" not in allowed and not any(kind in _COMPATIBLE.get(a, {a}) for a in allowed):
                problems.append(f"{path}: {element.text!r} is {kind}, samples show {allowed}")
        for child in children:
            self._check(child, f"{path}/{child.tag.removeprefix(NS)}", problems)

    def validate(self, body: bytes) -> None:
        problems = self.errors(body)
        assert not problems, "\n".join(problems[:20])


class JsonSchemas:
    """The ``$defs`` of one JSON Schema document."""

    def __init__(self, file: Path) -> None:
        self.document: Json = json.loads(file.read_text())

    def errors(self, name: str, instance: Any) -> list[str]:
        schema = {**self.document, "$ref": f"#/$defs/{name}"}
        validator = Draft202012Validator(schema)
        return [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(instance)
        ]

    def validate(self, name: str, instance: Any) -> None:
        problems = self.errors(name, instance)
        assert not problems, "\n".join(problems[:20])
