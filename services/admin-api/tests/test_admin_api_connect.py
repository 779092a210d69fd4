"""OAuth connect through the eBay sandbox over HTTP and the real token service; token health,
the refresh log and a forced refresh. No token ever appears in a response."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from nats.js import JetStreamContext
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.accounts import EbayAccount
from common.ebay.scopes import SCOPE_STRING
from ebay_sandbox.settings import SandboxConfig
from testkit.admin import Org, admin_settings, create_signed_in_org, serve_admin
from testkit.factories import create_account
from testkit.sandbox import serve_sandbox
from testkit.token_service import running_token_service, sandbox_ebay

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

CLIENT_ID, CLIENT_SECRET, RU_NAME = "admin-SBX-client", "admin-secret", "admin-RuName"
CALLBACK = "http://admin/api/oauth/callback"


@dataclass
class Env:
    client: httpx.AsyncClient
    sandbox: httpx.AsyncClient
    sandbox_url: str
    org: Org
    sellers: list[dict[str, str]]

    async def consent(self, authorize_url: str, username: str) -> str:
        """Walk the consent as the seller; returns the callback URL eBay redirects to."""
        response = await self.sandbox.get(f"{authorize_url}&seller={username}")
        assert response.status_code == 302, response.text
        location = response.headers["location"]
        assert location.startswith(CALLBACK)
        return location.removeprefix("http://admin")

    async def connect(self, username: str, house_name: str) -> httpx.Response:
        start = await self.client.post(
            "/api/accounts/connect", headers=self.org.operator, json={"house_name": house_name}
        )
        assert start.status_code == 200, start.text
        return await self.client.get(await self.consent(start.json()["authorize_url"], username))


@pytest.fixture
async def env(
    nats_url: str,
    migrated_database_url: str,
    topology: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Env]:
    # Several services in one process: none may take the fixed metrics port.
    monkeypatch.setenv("METRICS_PORT", "0")
    config = SandboxConfig(
        sellers=2,
        orders_per_day=1,
        history_days=2,
        client_id=CLIENT_ID,
        client_secret=SecretStr(CLIENT_SECRET),
        ru_name=RU_NAME,
        accept_url=CALLBACK,
    )
    async with serve_sandbox(config) as sandbox_url:
        ebay = sandbox_ebay(
            sandbox_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, ru_name=RU_NAME
        )
        settings = admin_settings(
            nats_url, migrated_database_url, ebay=ebay, ebay_environment="sandbox"
        )
        async with (
            running_token_service(nats_url, migrated_database_url, ebay),
            serve_admin(settings) as (_, client),
            httpx.AsyncClient(base_url=sandbox_url) as sandbox,
        ):
            sellers = (await sandbox.get("/sandbox/sellers")).json()
            org = await create_signed_in_org(client, sessions)
            yield Env(client, sandbox, sandbox_url, org, sellers)


def no_secrets(response: httpx.Response) -> None:
    text = response.text.lower()
    assert "v^1.1" not in text and "ciphertext" not in text and 'access_token"' not in text


async def test_connect_creates_the_account_from_ebays_own_answer(
    env: Env, sessions: async_sessionmaker[AsyncSession]
) -> None:
    seller = env.sellers[0]
    start = await env.client.post(
        "/api/accounts/connect", headers=env.org.operator, json={"house_name": "Sandbox one"}
    )
    url = urlsplit(start.json()["authorize_url"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{env.sandbox_url}/oauth2/authorize"
    assert query["client_id"] == CLIENT_ID and query["redirect_uri"] == RU_NAME
    assert query["response_type"] == "code" and query["scope"] == SCOPE_STRING
    redirect = await env.consent(start.json()["authorize_url"], seller["username"])
    callback = await env.client.get(redirect)
    assert callback.status_code == 303, callback.text
    account_id = int(callback.headers["location"].split("/accounts/")[1].split("?")[0])
    account = (await env.client.get(f"/api/accounts/{account_id}", headers=env.org.viewer)).json()
    assert account["house_name"] == "Sandbox one"
    assert (account["ebay_user_id"], account["username"]) == (seller["userId"], seller["username"])
    assert account["marketplace_id"] == seller["marketplaceId"]
    assert account["environment"] == "sandbox" and account["active"] is True

    token = await env.client.get(f"/api/accounts/{account_id}/token", headers=env.org.viewer)
    assert token.json()["status"] == "healthy"
    no_secrets(token)
    log = await env.client.get(
        f"/api/accounts/{account_id}/token/refresh-log", headers=env.org.viewer
    )
    assert [(e["reason"], e["outcome"]) for e in log.json()] == [("connect", "ok")]

    refreshed = await env.client.post(
        f"/api/accounts/{account_id}/token/refresh", headers=env.org.operator
    )
    assert refreshed.status_code == 200 and refreshed.json()["refreshed"] is True
    no_secrets(refreshed)
    log = await env.client.get(
        f"/api/accounts/{account_id}/token/refresh-log", headers=env.org.viewer
    )
    assert [e["reason"] for e in log.json()] == ["forced", "connect"]
    listed = await env.client.get("/api/tokens", headers=env.org.viewer)
    assert [t["account_id"] for t in listed.json()] == [account_id]
    no_secrets(listed)


async def test_a_state_works_once(env: Env) -> None:
    start = await env.client.post(
        "/api/accounts/connect", headers=env.org.operator, json={"house_name": "Once"}
    )
    callback = await env.consent(start.json()["authorize_url"], env.sellers[0]["username"])
    assert (await env.client.get(callback)).status_code == 303
    again = await env.client.get(callback)
    assert again.status_code == 400 and "already used" in again.text


@pytest.mark.parametrize(
    "query",
    ["state=forged&code=x", "code=x", "error=access_denied&error_description=declined"],
)
async def test_a_forged_or_missing_state_or_a_refusal_is_a_400(env: Env, query: str) -> None:
    response = await env.client.get(f"/api/oauth/callback?{query}")
    assert response.status_code == 400


async def test_a_seller_connected_already_is_pointed_to_reconnect(env: Env) -> None:
    seller = env.sellers[0]["username"]
    first = await env.connect(seller, "First")
    assert first.status_code == 303
    second = await env.connect(seller, "Second")
    assert second.status_code == 409 and "use Reconnect" in second.text


async def test_reconnect_renews_the_consent_of_the_same_seller_only(
    env: Env, sessions: async_sessionmaker[AsyncSession]
) -> None:
    [first, other] = env.sellers
    connected = await env.connect(first["username"], "Mine")
    account_id = int(connected.headers["location"].split("/accounts/")[1].split("?")[0])
    start = await env.client.post(f"/api/accounts/{account_id}/reconnect", headers=env.org.operator)
    redirect = await env.consent(start.json()["authorize_url"], first["username"])
    renewed = await env.client.get(redirect)
    assert renewed.status_code == 303 and f"/accounts/{account_id}" in renewed.headers["location"]
    start = await env.client.post(f"/api/accounts/{account_id}/reconnect", headers=env.org.operator)
    redirect = await env.consent(start.json()["authorize_url"], other["username"])
    wrong = await env.client.get(redirect)
    assert wrong.status_code == 409
    async with sessions() as session:
        account = await session.get(EbayAccount, account_id)
        assert account is not None and account.needs_reauth  # the wrong grant is never used
    token = await env.client.get(f"/api/accounts/{account_id}/token", headers=env.org.viewer)
    assert token.json()["status"] == "needs_reauth"


async def test_a_house_name_in_use_is_refused_before_consent(
    env: Env, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions.begin() as session:
        await create_account(session, org_id=env.org.id, house_name="Taken")
    start = await env.client.post(
        "/api/accounts/connect", headers=env.org.operator, json={"house_name": "Taken"}
    )
    assert start.status_code == 409


async def test_only_operators_connect(env: Env) -> None:
    response = await env.client.post(
        "/api/accounts/connect", headers=env.org.viewer, json={"house_name": "x"}
    )
    assert response.status_code == 403


async def test_another_environment_is_refused(env: Env) -> None:
    response = await env.client.post(
        "/api/accounts/connect",
        headers=env.org.operator,
        json={"house_name": "Prod", "environment": "production"},
    )
    assert response.status_code == 422


async def test_without_a_token_service_a_forced_refresh_is_a_503(
    migrated_database_url: str,
    nats_url: str,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with serve_admin(admin_settings(nats_url, migrated_database_url)) as (_, client):
        org = await create_signed_in_org(client, sessions)
        async with sessions.begin() as session:
            account = await create_account(session, org_id=org.id)
        token = await client.get(f"/api/accounts/{account.id}/token", headers=org.viewer)
        assert token.json()["status"] == "needs_reauth"
        response = await client.post(
            f"/api/accounts/{account.id}/token/refresh", headers=org.operator
        )
        assert response.status_code == 503
        assert "token service" in response.json()["detail"]


def account_id_of(callback: httpx.Response) -> int:
    assert callback.status_code == 303, callback.text
    return int(callback.headers["location"].split("/accounts/")[1].split("?")[0])


BASE = "https://api.ebay.com/oauth/api_scope"
BUYER_SCOPES = {BASE, f"{BASE}/commerce.identity.readonly"}


@pytest.mark.parametrize(
    ("purpose", "scopes"),
    [
        ("buyer", BUYER_SCOPES),
        ("seller", set(SCOPE_STRING.split())),
        ("both", set(SCOPE_STRING.split())),
    ],
)
async def test_the_connect_url_asks_for_the_purposes_scopes(
    env: Env, purpose: str, scopes: set[str]
) -> None:
    start = await env.client.post(
        "/api/accounts/connect",
        headers=env.org.operator,
        json={"house_name": f"Scoped {purpose}", "purpose": purpose},
    )
    assert start.status_code == 200, start.text
    query = parse_qs(urlsplit(start.json()["authorize_url"]).query)
    assert set(query["scope"][0].split()) == scopes


async def test_a_buyer_account_keeps_its_consent_and_shows_only_purchases(env: Env) -> None:
    start = await env.client.post(
        "/api/accounts/connect",
        headers=env.org.operator,
        json={"house_name": "Buyer", "purpose": "buyer"},
    )
    redirect = await env.consent(start.json()["authorize_url"], env.sellers[0]["username"])
    account_id = account_id_of(await env.client.get(redirect))
    account = (await env.client.get(f"/api/accounts/{account_id}", headers=env.org.viewer)).json()
    assert account["purpose"] == "buyer"
    token = (
        await env.client.get(f"/api/accounts/{account_id}/token", headers=env.org.viewer)
    ).json()
    assert set(token["scopes"]) == BUYER_SCOPES
    # eBay refuses a refresh asking for more than was consented: the stored scopes are right.
    refreshed = await env.client.post(
        f"/api/accounts/{account_id}/token/refresh", headers=env.org.operator
    )
    assert refreshed.status_code == 200 and refreshed.json()["refreshed"] is True, refreshed.text
    workers = await env.client.get(f"/api/accounts/{account_id}/workers", headers=env.org.viewer)
    assert [w["family"] for w in workers.json()] == ["purchases"]
    schedule = await env.client.get(f"/api/accounts/{account_id}/schedule", headers=env.org.viewer)
    assert [s["family"] for s in schedule.json()] == ["purchases"]
    everyone = await env.client.get("/api/workers", headers=env.org.viewer)
    assert {w["family"] for w in everyone.json() if w["account_id"] == account_id} == {"purchases"}
    run = await env.client.post(
        f"/api/accounts/{account_id}/workers/orders/run", headers=env.org.operator
    )
    assert run.status_code == 409 and "does not sync orders" in run.text


async def test_an_admin_changes_the_purpose_and_learns_what_to_reconnect_for(env: Env) -> None:
    start = await env.client.post(
        "/api/accounts/connect",
        headers=env.org.operator,
        json={"house_name": "Turns seller", "purpose": "buyer"},
    )
    redirect = await env.consent(start.json()["authorize_url"], env.sellers[1]["username"])
    account_id = account_id_of(await env.client.get(redirect))
    url = f"/api/accounts/{account_id}/purpose"
    refused = await env.client.put(url, headers=env.org.operator, json={"purpose": "seller"})
    assert refused.status_code == 403
    changed = await env.client.put(url, headers=env.org.admin, json={"purpose": "seller"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["purpose"] == "seller"
    assert set(changed.json()["missing_scopes"]) == set(SCOPE_STRING.split()) - BUYER_SCOPES
    workers = await env.client.get(f"/api/accounts/{account_id}/workers", headers=env.org.viewer)
    families = {w["family"] for w in workers.json()}
    assert "purchases" not in families and {"orders", "offers", "messages"} <= families
    # Reconnect asks for what the new purpose needs.
    again = await env.client.post(f"/api/accounts/{account_id}/reconnect", headers=env.org.operator)
    query = parse_qs(urlsplit(again.json()["authorize_url"]).query)
    assert set(query["scope"][0].split()) == set(SCOPE_STRING.split())
    back = await env.client.put(url, headers=env.org.admin, json={"purpose": "buyer"})
    assert back.json()["missing_scopes"] == []
