"""Fixtures for the sandbox tests: configured apps, clients, logins, signing and validators."""

import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from ebay_sandbox.app import create_app
from ebay_sandbox.settings import SandboxConfig
from testkit.sandbox_client import (
    SCOPE,
    SCOPES,
    Json,
    Login,
    Signer,
    TradingReply,
    basic_auth,
    make_config,
    trading_body,
    trading_headers,
)
from testkit.sandbox_contracts import JsonSchemas, SpecValidator, XmlShape

CONTRACTS = Path(__file__).parent / "contracts"


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


TradingFn = Callable[..., Awaitable[TradingReply]]


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
