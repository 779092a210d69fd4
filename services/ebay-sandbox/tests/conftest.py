"""Fixtures for the sandbox tests: configured apps, clients, logins, signing and validators."""

import base64
import hashlib
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ebay_sandbox.app import create_app
from ebay_sandbox.settings import SandboxConfig

CONTRACTS = Path(__file__).parent / "contracts"
START = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SCOPE = "https://api.ebay.com/oauth/api_scope"
SCOPES = " ".join(
    f"{SCOPE}{name}"
    for name in (
        "",
        "/sell.fulfillment.readonly",
        "/commerce.identity.readonly",
        "/sell.finances",
        "/sell.inventory.readonly",
        "/sell.payment.dispute",
    )
)
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

    @property
    def iaf(self) -> dict[str, str]:
        """Post-Order headers."""
        return {"Authorization": f"IAF {self.access_token}", "X-EBAY-C-MARKETPLACE-ID": "EBAY_US"}


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
    """Fetch every page by following ``next``; checks paging invariants on the way. Asks for
    the tax breakdown, as ebaysync does and the ground truth renders orders."""

    async def run(headers: dict[str, str], **params: Any) -> list[Json]:
        params.setdefault("fieldGroups", "TAX_BREAKDOWN")
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


# --- Trading --------------------------------------------------------------------------------

NS = "{urn:ebay:apis:eBLBaseComponents}"


@dataclass
class TradingReply:
    """A parsed Trading response."""

    status: int
    body: bytes
    root: ET.Element
    headers: httpx.Headers

    def find(self, path: str) -> ET.Element | None:
        return self.root.find("/".join(f"{NS}{p}" for p in path.split("/")))

    def findall(self, path: str) -> list[ET.Element]:
        return self.root.findall("/".join(f"{NS}{p}" for p in path.split("/")))

    def text(self, path: str) -> str | None:
        found = self.find(path)
        return found.text if found is not None else None

    @property
    def ack(self) -> str | None:
        return self.text("Ack")

    @property
    def error_codes(self) -> list[str]:
        return [e.text or "" for e in self.findall("Errors/ErrorCode")]


TradingFn = Callable[..., Awaitable[TradingReply]]


def trading_headers(call: str, token: str | None, **overrides: str | None) -> dict[str, str]:
    headers: dict[str, str | None] = {
        "X-EBAY-API-CALL-NAME": call,
        "X-EBAY-API-SITEID": "0",
        "X-EBAY-API-COMPATIBILITY-LEVEL": "1355",
        "X-EBAY-API-IAF-TOKEN": token,
        "Content-Type": "text/xml",
    }
    headers.update({k.replace("_", "-"): v for k, v in overrides.items()})
    return {k: v for k, v in headers.items() if v is not None}


def trading_body(call: str, inner: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<{call}Request xmlns="urn:ebay:apis:eBLBaseComponents">{inner}</{call}Request>'
    )


@pytest.fixture
def trading(client: httpx.AsyncClient) -> TradingFn:
    """``await trading("GetUser", "", token=...)`` posts a Trading call."""

    async def run(
        call: str,
        inner: str = "",
        *,
        token: str | None,
        body: str | None = None,
        **headers: str | None,
    ) -> TradingReply:
        resp = await client.post(
            "/ws/api.dll",
            content=body if body is not None else trading_body(call, inner),
            headers=trading_headers(call, token, **headers),
        )
        assert resp.headers["content-type"].startswith("text/xml"), resp.text
        return TradingReply(
            resp.status_code, resp.content, ET.fromstring(resp.content), resp.headers
        )

    return run


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


# Documented elements the samples do not show (GetMyMessagesResponseType): message bodies
# (the sample's comment: "each Message also carries <Text>"), the ReturnSummary counts and the
# names of custom folders (MyMessagesFolderType, MyMessagesFolderSummaryType FolderName).
TRADING_EXTRAS = {
    "Response/CorrelationID": "text",  # AbstractResponseType; the sandbox sends it on failures
    "Response/Messages/Message/Text": "text",
    "Response/Messages/Message/Folder/FolderName": "text",
    "Response/Summary/FolderSummary/FolderName": "text",
    "Response/Summary": "node",
    "Response/Summary/FolderSummary": "node",
    "Response/Summary/FolderSummary/FolderID": "int",
    "Response/Summary/FolderSummary/NewMessageCount": "int",
    "Response/Summary/FolderSummary/TotalMessageCount": "int",
    "Response/Summary/NewMessageCount": "int",
    "Response/Summary/FlaggedMessageCount": "int",
    "Response/Summary/TotalMessageCount": "int",
}


@pytest.fixture(scope="session")
def trading_shape() -> XmlShape:
    files = sorted((CONTRACTS / "trading").glob("*.response.xml"))
    return XmlShape(files, TRADING_EXTRAS)


# --- More OpenAPI and JSON Schema contracts ----------------------------------------------


@pytest.fixture(scope="session")
def finances_spec() -> SpecValidator:
    return SpecValidator(CONTRACTS / "sell_finances_v1_oas3.json")


@pytest.fixture(scope="session")
def inventory_spec() -> SpecValidator:
    return SpecValidator(CONTRACTS / "sell_inventory_v1_oas3.json")


@pytest.fixture(scope="session")
def notification_spec() -> SpecValidator:
    return SpecValidator(CONTRACTS / "commerce_notification_v1_oas3.json")


@pytest.fixture(scope="session")
def analytics_spec() -> SpecValidator:
    return SpecValidator(CONTRACTS / "developer_analytics_v1_beta_oas3.json")


@pytest.fixture(scope="session")
def keys_spec() -> SpecValidator:
    return SpecValidator(CONTRACTS / "developer_key_management_v1_oas3.json")


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


@pytest.fixture(scope="session")
def post_order_schemas() -> JsonSchemas:
    return JsonSchemas(CONTRACTS / "post_order" / "schemas.json")


# --- Application tokens and signatures ----------------------------------------------------


@pytest.fixture
def app_token(
    client: httpx.AsyncClient, client_auth: dict[str, str]
) -> Callable[[], Awaitable[str]]:
    """An application access token (client credentials grant)."""

    async def run() -> str:
        form = {"grant_type": "client_credentials", "scope": SCOPE}
        resp = await client.post("/identity/v1/oauth2/token", data=form, headers=client_auth)
        assert resp.status_code == 200, resp.text
        token: str = resp.json()["access_token"]
        return token

    return run


@dataclass
class Signer:
    """Signs requests with a key pair from the sandbox's Key Management API."""

    key: Json

    def headers(
        self, method: str, url: str, body: bytes = b"", created: int = 1_700_000_000
    ) -> dict[str, str]:
        parsed = httpx.URL(url)
        jwe = self.key["jwe"]
        components = ['"x-ebay-signature-key"', '"@method"', '"@path"', '"@authority"']
        headers = {"x-ebay-signature-key": jwe}
        lines = []
        if body:
            digest = "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
            headers["Content-Digest"] = digest
            components.insert(0, '"content-digest"')
            lines.append(f'"content-digest": {digest}')
        authority = parsed.host + (f":{parsed.port}" if parsed.port else "")
        lines += [
            f'"x-ebay-signature-key": {jwe}',
            f'"@method": {method.upper()}',
            f'"@path": {parsed.path}',
            f'"@authority": {authority}',
        ]
        params = f"({' '.join(components)});created={created}"
        lines.append(f'"@signature-params": {params}')
        base = "\n".join(lines).encode()
        private = serialization.load_der_private_key(base64.b64decode(self.key["privateKey"]), None)
        if isinstance(private, ed25519.Ed25519PrivateKey):
            signature = private.sign(base)
        else:
            assert isinstance(private, rsa.RSAPrivateKey)
            signature = private.sign(base, padding.PKCS1v15(), hashes.SHA256())
        headers["Signature-Input"] = f"sig1={params}"
        headers["Signature"] = f"sig1=:{base64.b64encode(signature).decode()}:"
        return headers


@pytest.fixture
def signer(
    client: httpx.AsyncClient, app_token: Callable[[], Awaitable[str]]
) -> Callable[..., Awaitable[Signer]]:
    """``await signer("ED25519")``: a fresh key pair from Key Management."""

    async def run(cipher: str = "ED25519") -> Signer:
        token = await app_token()
        resp = await client.post(
            "/developer/key_management/v1/signing_key",
            json={"signingKeyCipher": cipher},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert resp.status_code == 200, resp.text
        return Signer(resp.json())

    return run
