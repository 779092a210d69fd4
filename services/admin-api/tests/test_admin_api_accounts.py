"""Accounts: org scoping (another org's account is a 404), rename, deactivate, roles."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.accounts import EbayAccount
from testkit import admin_fixtures
from testkit.admin import Org, admin_settings, serve_admin
from testkit.factories import create_account

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

org = admin_fixtures.org


@pytest.fixture
async def client(migrated_database_url: str, nats_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_admin(admin_settings(nats_url, migrated_database_url)) as (_, client):
        yield client


@pytest.fixture
async def account(org: Org, sessions: async_sessionmaker[AsyncSession]) -> EbayAccount:
    async with sessions.begin() as session:
        return await create_account(session, org_id=org.id, house_name="Main store")


@pytest.fixture
async def foreign(sessions: async_sessionmaker[AsyncSession]) -> EbayAccount:
    """An account of another org."""
    async with sessions.begin() as session:
        return await create_account(session)


# Every endpoint that names an account, with a valid body: another org's account is a 404.
ACCOUNT_ENDPOINTS = [
    ("GET", "/api/accounts/{id}", None),
    ("PATCH", "/api/accounts/{id}", {"house_name": "Mine now"}),
    ("POST", "/api/accounts/{id}/deactivate", None),
    ("POST", "/api/accounts/{id}/reconnect", None),
    ("GET", "/api/accounts/{id}/workers", None),
    ("PATCH", "/api/accounts/{id}/workers/orders", {"enabled": False}),
    ("POST", "/api/accounts/{id}/workers/orders/resume", None),
    ("POST", "/api/accounts/{id}/workers/orders/run", None),
    ("POST", "/api/accounts/{id}/workers/run", None),
    ("GET", "/api/accounts/{id}/schedule", None),
    ("GET", "/api/accounts/{id}/token", None),
    ("GET", "/api/accounts/{id}/token/refresh-log", None),
    ("POST", "/api/accounts/{id}/token/refresh", None),
    ("GET", "/api/accounts/{id}/live", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ACCOUNT_ENDPOINTS)
async def test_another_orgs_account_does_not_exist(
    client: httpx.AsyncClient,
    org: Org,
    foreign: EbayAccount,
    method: str,
    path: str,
    body: dict[str, object] | None,
) -> None:
    response = await client.request(
        method, path.format(id=foreign.id), headers=org.admin, json=body
    )
    assert response.status_code == 404
    assert response.json() == {"detail": f"account {foreign.id} not found"}


async def test_the_list_holds_only_the_orgs_active_accounts(
    client: httpx.AsyncClient,
    org: Org,
    account: EbayAccount,
    foreign: EbayAccount,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        gone = await create_account(session, org_id=org.id, active=False)
    active = (await client.get("/api/accounts", headers=org.viewer)).json()
    assert [a["id"] for a in active] == [account.id]
    everything = (
        await client.get("/api/accounts?include_inactive=true", headers=org.viewer)
    ).json()
    assert {a["id"] for a in everything} == {account.id, gone.id}
    got = (await client.get(f"/api/accounts/{account.id}", headers=org.viewer)).json()
    assert got["house_name"] == "Main store" and got["marketplace_id"] == "EBAY_US"


class TestRename:
    async def test_an_operator_renames(
        self, client: httpx.AsyncClient, org: Org, account: EbayAccount
    ) -> None:
        response = await client.patch(
            f"/api/accounts/{account.id}", headers=org.operator, json={"house_name": " Outlet "}
        )
        assert response.status_code == 200
        assert response.json()["house_name"] == "Outlet"

    async def test_a_name_an_active_account_has_is_a_409(
        self,
        client: httpx.AsyncClient,
        org: Org,
        account: EbayAccount,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        async with sessions.begin() as session:
            other = await create_account(session, org_id=org.id, house_name="Outlet")
        response = await client.patch(
            f"/api/accounts/{account.id}", headers=org.operator, json={"house_name": "Outlet"}
        )
        assert response.status_code == 409
        assert "already called 'Outlet'" in response.json()["detail"]
        assert other.id != account.id

    async def test_a_deactivated_accounts_name_is_free_again(
        self,
        client: httpx.AsyncClient,
        org: Org,
        account: EbayAccount,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        async with sessions.begin() as session:
            await create_account(session, org_id=org.id, house_name="Old", active=False)
        response = await client.patch(
            f"/api/accounts/{account.id}", headers=org.operator, json={"house_name": "Old"}
        )
        assert response.status_code == 200

    async def test_the_same_name_in_another_org_is_fine(
        self,
        client: httpx.AsyncClient,
        org: Org,
        account: EbayAccount,
        foreign: EbayAccount,
    ) -> None:
        response = await client.patch(
            f"/api/accounts/{account.id}",
            headers=org.operator,
            json={"house_name": foreign.house_name},
        )
        assert response.status_code == 200

    @pytest.mark.parametrize("name", ["", "   ", "x" * 101])
    async def test_a_blank_or_long_name_is_a_422(
        self, client: httpx.AsyncClient, org: Org, account: EbayAccount, name: str
    ) -> None:
        response = await client.patch(
            f"/api/accounts/{account.id}", headers=org.operator, json={"house_name": name}
        )
        assert response.status_code == 422

    async def test_a_viewer_cannot_rename(
        self, client: httpx.AsyncClient, org: Org, account: EbayAccount
    ) -> None:
        response = await client.patch(
            f"/api/accounts/{account.id}", headers=org.viewer, json={"house_name": "Nope"}
        )
        assert response.status_code == 403


class TestDeactivate:
    async def test_an_admin_deactivates_and_the_account_leaves_the_list(
        self, client: httpx.AsyncClient, org: Org, account: EbayAccount
    ) -> None:
        response = await client.post(f"/api/accounts/{account.id}/deactivate", headers=org.admin)
        assert response.status_code == 200
        assert response.json()["active"] is False and response.json()["deactivated_at"]
        assert (await client.get("/api/accounts", headers=org.admin)).json() == []
        workers = (
            await client.get(f"/api/accounts/{account.id}/workers", headers=org.admin)
        ).json()
        assert workers[0]["status"] == "failing"
        assert workers[0]["status_reason"] == "account deactivated"

    async def test_an_operator_may_not(
        self, client: httpx.AsyncClient, org: Org, account: EbayAccount
    ) -> None:
        response = await client.post(f"/api/accounts/{account.id}/deactivate", headers=org.operator)
        assert response.status_code == 403


# What each role may do: (method, path, body, the least role allowed).
GUARDED = [
    ("PATCH", "/api/accounts/{id}", {"house_name": "Renamed"}, "operator"),
    ("POST", "/api/accounts/{id}/reconnect", None, "operator"),
    ("POST", "/api/accounts/connect", {"house_name": "New one"}, "operator"),
    ("PATCH", "/api/accounts/{id}/workers/orders", {"enabled": True}, "operator"),
    ("POST", "/api/accounts/{id}/workers/orders/resume", None, "operator"),
    ("POST", "/api/accounts/{id}/token/refresh", None, "operator"),
    ("POST", "/api/accounts/{id}/deactivate", None, "admin"),
    ("PUT", "/api/control/pause", {"paused": False}, "admin"),
    ("POST", "/api/retention/purge", {}, "admin"),
    ("GET", "/api/users", None, "admin"),
    ("POST", "/api/dead-letters/1/replay", None, "admin"),
    ("DELETE", "/api/dead-letters/1", None, "admin"),
]
RANK = {"viewer": 0, "operator": 1, "admin": 2}


@pytest.mark.parametrize(("method", "path", "body", "least"), GUARDED)
async def test_a_role_below_the_one_needed_is_a_403(
    client: httpx.AsyncClient,
    org: Org,
    account: EbayAccount,
    method: str,
    path: str,
    body: dict[str, object] | None,
    least: str,
) -> None:
    for role in ("viewer", "operator"):
        if RANK[role] >= RANK[least]:
            continue
        response = await client.request(
            method, path.format(id=account.id), headers=getattr(org, role), json=body
        )
        assert response.status_code == 403, (role, response.text)
        assert response.json() == {"detail": f"needs the {least} role"}


async def test_every_protected_endpoint_needs_a_sign_in(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    values = {"account_id": "1", "family": "orders", "run_id": str(uuid.uuid4()), "user_id": "1"}
    values["sequence"] = "1"
    values["event_id"] = "1"
    values["name"] = "token_sweep"  # a background job (routes/ops.py)
    values.update(channel_id="1", rule_id="1")  # notifications (routes/alerts.py)
    protected = [
        (method, path)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if operation.get("security")
    ]
    assert len(protected) > 30
    for method, path in protected:
        url = path.format(**values)
        response = await client.request(method.upper(), url, json={})
        assert response.status_code == 401, (method, path, response.status_code)
