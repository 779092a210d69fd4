"""Fixtures for the sandbox tests: configured apps, clients, logins and schema validation."""

import base64
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ebay_sandbox.app import create_app
from ebay_sandbox.settings import SandboxConfig

CONTRACTS = Path(__file__).parent / "contracts"
START = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SCOPE = "https://api.ebay.com/oauth/api_scope"
SCOPES = f"{SCOPE}/sell.fulfillment.readonly {SCOPE}/commerce.identity.readonly"
DATE_FIELD = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
AMOUNT_VALUE = re.compile(r"^-?\d+\.\d{2}$")

Json = dict[str, Any]


def make_config(**overrides: Any) -> SandboxConfig:
    """A reproducible config: pinned, frozen clock; every field explicit so env vars can't leak."""
    values: dict[str, Any] = {
        "seed": 7,
        "sellers": 3,
        "orders_per_day": 10,
        "history_days": 120,
        "client_id": "test-SBX-client",
        "client_secret": "test-secret",
        "ru_name": "test-RuName",
        "accept_url": "https://client.test/accept",
        "clock_offset_seconds": 0,
        "clock_start": START,
        "clock_frozen": True,
    }
    values.update(overrides)
    return SandboxConfig(**values)


@pytest.fixture
def config_overrides() -> dict[str, Any]:
    """Override with ``@pytest.mark.parametrize("config_overrides", [{...}])``."""
    return {}


@pytest.fixture
def config(config_overrides: dict[str, Any]) -> SandboxConfig:
    return make_config(**config_overrides)


ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def make_client() -> ClientFactory:
    """``async with make_client(seed=2) as c:`` gives a client on a fresh sandbox."""

    @asynccontextmanager
    async def run(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=create_app(make_config(**overrides)))
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as c:
            yield c

    return run


@pytest.fixture
async def client(config: SandboxConfig) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(config))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as c:
        yield c


def basic_auth(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


@dataclass
class Login:
    """Tokens obtained through the full consent + code grant flow."""

    access_token: str
    refresh_token: str
    body: Json

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


LoginFn = Callable[..., Awaitable[Login]]


@pytest.fixture
def client_auth(config: SandboxConfig) -> dict[str, str]:
    return basic_auth(config.client_id, config.client_secret.get_secret_value())


@pytest.fixture
def authorize_code(
    client: httpx.AsyncClient, config: SandboxConfig
) -> Callable[..., Awaitable[str]]:
    async def run(username: str, scopes: str = SCOPES) -> str:
        params = {
            "client_id": config.client_id,
            "redirect_uri": config.ru_name,
            "response_type": "code",
            "scope": scopes,
            "state": "xyz",
            "seller": username,
        }
        resp = await client.get("/oauth2/authorize", params=params)
        assert resp.status_code == 302, resp.text
        location = urlsplit(resp.headers["location"])
        query = parse_qs(location.query)
        assert query["state"] == ["xyz"]
        assert query["expires_in"] == ["299"]
        return query["code"][0]

    return run


@pytest.fixture
def login(
    client: httpx.AsyncClient,
    config: SandboxConfig,
    client_auth: dict[str, str],
    authorize_code: Callable[..., Awaitable[str]],
) -> LoginFn:
    async def run(username: str = "sandbox_seller_1", scopes: str = SCOPES) -> Login:
        code = await authorize_code(username, scopes)
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": config.ru_name}
        resp = await client.post("/identity/v1/oauth2/token", data=form, headers=client_auth)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        return Login(body["access_token"], body["refresh_token"], body)

    return run


# --- OpenAPI schema validation -------------------------------------------------------------


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


@pytest.fixture(scope="session")
def fulfillment_spec() -> SpecValidator:
    return SpecValidator(CONTRACTS / "sell_fulfillment_v1_oas3.json")


@pytest.fixture(scope="session")
def identity_spec() -> SpecValidator:
    return SpecValidator(CONTRACTS / "commerce_identity_v1_oas3.json")


@pytest.fixture(scope="session")
def observed_errors() -> Json:
    data: Json = json.loads((CONTRACTS / "errors_observed.json").read_text())
    return data


@pytest.fixture(scope="session")
def oauth_contract() -> Callable[[str], Json]:
    def load(name: str) -> Json:
        data: Json = json.loads((CONTRACTS / f"oauth_{name}.json").read_text())
        return data

    return load


# --- Sandbox control helpers ---------------------------------------------------------------

TruthFn = Callable[..., Awaitable[list[Json]]]


@pytest.fixture
def truth(client: httpx.AsyncClient) -> TruthFn:
    """Ground-truth orders of a seller (optionally restricted to a lastModifiedDate range)."""

    async def run(username: str = "sandbox_seller_1", **params: str) -> list[Json]:
        resp = await client.get(f"/sandbox/sellers/{username}/orders", params=params)
        assert resp.status_code == 200, resp.text
        orders: list[Json] = resp.json()["orders"]
        return orders

    return run


@pytest.fixture
def advance(client: httpx.AsyncClient) -> Callable[[float], Awaitable[str]]:
    """Advance the sandbox clock; returns the new time."""

    async def run(seconds: float) -> str:
        resp = await client.post("/sandbox/clock/advance", json={"seconds": seconds})
        assert resp.status_code == 200, resp.text
        now: str = resp.json()["now"]
        return now

    return run


@pytest.fixture
def sandbox_now(client: httpx.AsyncClient) -> Callable[[], Awaitable[str]]:
    async def run() -> str:
        now: str = (await client.get("/sandbox/clock")).json()["now"]
        return now

    return run


@pytest.fixture
def walk_pages(client: httpx.AsyncClient) -> Callable[..., Awaitable[list[Json]]]:
    """Fetch every page by following ``next``; checks paging invariants on the way."""

    async def run(headers: dict[str, str], **params: Any) -> list[Json]:
        resp = await client.get("/sell/fulfillment/v1/order", params=params, headers=headers)
        assert resp.status_code == 200, resp.text
        pages = [resp.json()]
        while "next" in pages[-1]:
            resp = await client.get(pages[-1]["next"], headers=headers)
            assert resp.status_code == 200, resp.text
            pages.append(resp.json())
        total = pages[0]["total"]
        for i, page in enumerate(pages):
            assert page["total"] == total
            assert page["offset"] == i * page["limit"]
            assert ("prev" in page) == (i > 0)
        orders = [o for page in pages for o in page["orders"]]
        assert len(orders) == total
        return orders

    return run
