"""Commerce Identity getUser."""

from typing import Any

import httpx
import pytest

USER = "/commerce/identity/v1/user/"


@pytest.mark.parametrize("username", ["sandbox_seller_1", "sandbox_seller_2", "sandbox_seller_3"])
async def test_get_user(
    client: httpx.AsyncClient, login: Any, identity_spec: Any, username: str
) -> None:
    tokens = await login(username)
    resp = await client.get(USER, headers=tokens.headers)
    assert resp.status_code == 200, resp.text
    user = resp.json()
    identity_spec.validate("UserResponse", user)
    sellers = (await client.get("/sandbox/sellers")).json()
    listed = next(s for s in sellers if s["username"] == username)
    assert user["userId"] == listed["userId"]
    assert user["username"] == username
    assert user["registrationMarketplaceId"] == listed["marketplaceId"]
    assert user["accountType"] in {"INDIVIDUAL", "BUSINESS"}
    assert ("businessAccount" in user) == (user["accountType"] == "BUSINESS")


async def test_get_user_without_trailing_slash(client: httpx.AsyncClient, login: Any) -> None:
    tokens = await login()
    resp = await client.get(USER.rstrip("/"), headers=tokens.headers)
    assert resp.status_code == 200


async def test_get_user_needs_token(client: httpx.AsyncClient, observed_errors: Any) -> None:
    for headers in ({}, {"Authorization": "Bearer v^1.1#i^1#nope"}, {"Authorization": "Basic x"}):
        resp = await client.get(USER, headers=headers)
        assert resp.status_code == 401
        assert resp.json() == observed_errors["401_invalid_access_token"]["body"]


async def test_sellers_listing(client: httpx.AsyncClient) -> None:
    sellers = (await client.get("/sandbox/sellers")).json()
    assert [s["username"] for s in sellers] == [f"sandbox_seller_{i}" for i in (1, 2, 3)]
    keys = {"userId", "username", "marketplaceId", "accountType", "profile"}
    assert all(set(s) == keys for s in sellers)
    assert [s["marketplaceId"] for s in sellers] == ["EBAY_US", "EBAY_GB", "EBAY_US"]
