"""OAuth consent page and token endpoint."""

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from ebay_sandbox.settings import SandboxConfig

TOKEN = "/identity/v1/oauth2/token"
ORDERS = "/sell/fulfillment/v1/order"
SCOPE = "https://api.ebay.com/oauth/api_scope"
Json = dict[str, Any]


def _consent_params(config: SandboxConfig, **extra: str) -> dict[str, str]:
    params = {
        "client_id": config.client_id,
        "redirect_uri": config.ru_name,
        "response_type": "code",
        "scope": f"{SCOPE}/sell.fulfillment.readonly",
        "state": "s1",
        "prompt": "login",
    }
    params.update(extra)
    return params


async def test_consent_page_lists_sellers(client: httpx.AsyncClient, config: SandboxConfig) -> None:
    resp = await client.get("/oauth2/authorize", params=_consent_params(config))
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    for i in (1, 2, 3):
        assert f"seller=sandbox_seller_{i}" in resp.text


async def test_consent_redirects_to_accept_url(
    client: httpx.AsyncClient, config: SandboxConfig
) -> None:
    params = _consent_params(config, seller="sandbox_seller_2")
    resp = await client.get("/oauth2/authorize", params=params)
    assert resp.status_code == 302
    location = httpx.URL(resp.headers["location"])
    assert str(location).startswith(config.accept_url + "?state=s1&code=")
    assert location.params["expires_in"] == "299"
    assert location.params["code"].startswith("v^1.1#i^1#")


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"client_id": "someone-else"}, "invalid_client"),
        ({"redirect_uri": "https://evil.test/cb"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "https://example.com/not-an-ebay-scope"}, "invalid_scope"),
        ({"scope": ""}, "invalid_scope"),
        ({"seller": "nobody"}, "invalid_request"),
    ],
)
async def test_consent_rejects_bad_requests(
    client: httpx.AsyncClient, config: SandboxConfig, override: dict[str, str], error: str
) -> None:
    resp = await client.get("/oauth2/authorize", params=_consent_params(config, **override))
    assert resp.status_code == 400
    assert resp.json()["error"] == error
    assert set(resp.json()) == {"error", "error_description"}


async def test_full_token_flow(
    client: httpx.AsyncClient,
    login: Any,
    client_auth: dict[str, str],
    advance: Callable[[float], Awaitable[str]],
    oauth_contract: Callable[[str], Json],
    observed_errors: Json,
) -> None:
    tokens = await login("sandbox_seller_1")
    assert set(tokens.body) == set(oauth_contract("authorization_code_grant.response"))
    assert tokens.body["expires_in"] == 7200
    assert tokens.body["refresh_token_expires_in"] == 47304000
    assert tokens.body["token_type"] == "User Access Token"
    assert tokens.access_token.startswith("v^1.1#i^1#")
    assert tokens.refresh_token.startswith("v^1.1#i^1#")
    assert (await client.get(ORDERS, headers=tokens.headers)).status_code == 200

    form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
    resp = await client.post(TOKEN, data=form, headers=client_auth)
    assert resp.status_code == 200, resp.text
    refreshed = resp.json()
    assert set(refreshed) == set(oauth_contract("refresh_token_grant.response"))
    assert "refresh_token" not in refreshed
    second = {"Authorization": f"Bearer {refreshed['access_token']}"}
    assert (await client.get(ORDERS, headers=second)).status_code == 200

    await advance(7201)
    expired_body = observed_errors["401_invalid_access_token"]["body"]
    for headers in (tokens.headers, second):
        resp = await client.get(ORDERS, headers=headers)
        assert resp.status_code == 401
        assert resp.json() == expired_body

    resp = await client.post(TOKEN, data=form, headers=client_auth)
    assert resp.status_code == 200
    third = {"Authorization": f"Bearer {resp.json()['access_token']}"}
    assert (await client.get(ORDERS, headers=third)).status_code == 200


async def test_access_token_valid_until_expiry(
    client: httpx.AsyncClient, login: Any, advance: Callable[[float], Awaitable[str]]
) -> None:
    tokens = await login()
    await advance(7199)
    assert (await client.get(ORDERS, headers=tokens.headers)).status_code == 200
    await advance(1)
    assert (await client.get(ORDERS, headers=tokens.headers)).status_code == 401


async def test_code_is_single_use(
    client: httpx.AsyncClient,
    config: SandboxConfig,
    client_auth: dict[str, str],
    authorize_code: Callable[..., Awaitable[str]],
    oauth_contract: Callable[[str], Json],
) -> None:
    code = await authorize_code("sandbox_seller_1")
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": config.ru_name}
    assert (await client.post(TOKEN, data=form, headers=client_auth)).status_code == 200
    resp = await client.post(TOKEN, data=form, headers=client_auth)
    assert resp.status_code == 400
    assert resp.json() == oauth_contract("error_invalid_grant")


async def test_code_expires_after_299_seconds(
    client: httpx.AsyncClient,
    config: SandboxConfig,
    client_auth: dict[str, str],
    authorize_code: Callable[..., Awaitable[str]],
    advance: Callable[[float], Awaitable[str]],
    oauth_contract: Callable[[str], Json],
) -> None:
    code = await authorize_code("sandbox_seller_1")
    await advance(299)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": config.ru_name}
    resp = await client.post(TOKEN, data=form, headers=client_auth)
    assert resp.status_code == 400
    assert resp.json() == oauth_contract("error_invalid_grant")


async def test_code_grant_needs_matching_redirect_uri(
    client: httpx.AsyncClient,
    client_auth: dict[str, str],
    authorize_code: Callable[..., Awaitable[str]],
) -> None:
    code = await authorize_code("sandbox_seller_1")
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": "other"}
    resp = await client.post(TOKEN, data=form, headers=client_auth)
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_grant"


async def test_revoked_refresh_token_is_invalid_grant(
    client: httpx.AsyncClient,
    login: Any,
    client_auth: dict[str, str],
    oauth_contract: Callable[[str], Json],
) -> None:
    tokens = await login()
    resp = await client.post("/sandbox/tokens/revoke", json={"token": tokens.refresh_token})
    assert resp.json() == {"revoked": True}
    form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
    resp = await client.post(TOKEN, data=form, headers=client_auth)
    assert resp.status_code == 400
    assert resp.json() == oauth_contract("error_invalid_grant")
    # Revoking the refresh token withdraws the consent: its access tokens die too.
    assert (await client.get(ORDERS, headers=tokens.headers)).status_code == 401


async def test_revoked_access_token_is_401(client: httpx.AsyncClient, login: Any) -> None:
    tokens = await login()
    await client.post("/sandbox/tokens/revoke", json={"token": tokens.access_token})
    assert (await client.get(ORDERS, headers=tokens.headers)).status_code == 401
    resp = await client.post("/sandbox/tokens/revoke", json={"token": "nope"})
    assert resp.status_code == 404


async def test_unknown_and_expired_refresh_tokens(
    client: httpx.AsyncClient,
    login: Any,
    client_auth: dict[str, str],
    advance: Callable[[float], Awaitable[str]],
    oauth_contract: Callable[[str], Json],
) -> None:
    tokens = await login()
    for refresh in ("v^1.1#i^1#bogus", tokens.refresh_token):
        if refresh == tokens.refresh_token:
            await advance(47_304_000)
        form = {"grant_type": "refresh_token", "refresh_token": refresh}
        resp = await client.post(TOKEN, data=form, headers=client_auth)
        assert resp.status_code == 400
        assert resp.json() == oauth_contract("error_invalid_grant")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic " + "dGVzdC1TQlgtY2xpZW50Ondyb25n"},  # right id, wrong secret
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Bearer something"},
    ],
)
async def test_bad_client_credentials(
    client: httpx.AsyncClient,
    login: Any,
    headers: dict[str, str],
    oauth_contract: Callable[[str], Json],
) -> None:
    tokens = await login()
    form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
    resp = await client.post(TOKEN, data=form, headers=headers)
    assert resp.status_code == 401
    assert resp.json() == oauth_contract("error_invalid_client")


@pytest.mark.parametrize("grant_type", ["password", "implicit", ""])
async def test_unsupported_grant_type(
    client: httpx.AsyncClient, client_auth: dict[str, str], grant_type: str
) -> None:
    resp = await client.post(TOKEN, data={"grant_type": grant_type}, headers=client_auth)
    assert resp.status_code == 400
    assert resp.json()["error"] == "unsupported_grant_type"


async def test_refresh_scopes_must_be_a_subset(
    client: httpx.AsyncClient, login: Any, client_auth: dict[str, str]
) -> None:
    tokens = await login()
    narrower = {
        "grant_type": "refresh_token",
        "refresh_token": tokens.refresh_token,
        "scope": f"{SCOPE}/sell.fulfillment.readonly",
    }
    resp = await client.post(TOKEN, data=narrower, headers=client_auth)
    assert resp.status_code == 200
    # The narrowed token can read orders but not the identity API.
    headers = {"Authorization": f"Bearer {resp.json()['access_token']}"}
    assert (await client.get(ORDERS, headers=headers)).status_code == 200
    forbidden = await client.get("/commerce/identity/v1/user/", headers=headers)
    assert forbidden.status_code == 403
    assert forbidden.json()["errors"][0]["errorId"] == 1100

    wider = {**narrower, "scope": f"{SCOPE}/sell.inventory"}
    resp = await client.post(TOKEN, data=wider, headers=client_auth)
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_scope"


async def test_tokens_are_bound_to_their_seller(
    client: httpx.AsyncClient, login: Any, truth: Any
) -> None:
    for username in ("sandbox_seller_1", "sandbox_seller_2"):
        tokens = await login(username)
        resp = await client.get(ORDERS, headers=tokens.headers, params={"limit": 5})
        assert {o["sellerId"] for o in resp.json()["orders"]} == {username}


async def test_client_credentials_grant(
    client: httpx.AsyncClient, client_auth: dict[str, str], oauth_contract: Any
) -> None:
    form = {"grant_type": "client_credentials", "scope": SCOPE}
    resp = await client.post(TOKEN, data=form, headers=client_auth)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    expected = oauth_contract("client_credentials_grant.response")
    assert set(body) == set(expected)
    assert (body["expires_in"], body["token_type"]) == (7200, expected["token_type"])
    user_scope = {**form, "scope": f"{SCOPE}/sell.fulfillment.readonly"}
    resp = await client.post(TOKEN, data=user_scope, headers=client_auth)
    assert (resp.status_code, resp.json()["error"]) == (400, "invalid_scope")
    resp = await client.post(TOKEN, data=form)
    assert resp.status_code == 401


async def test_a_narrowed_grant_names_its_scopes_in_the_token_response(
    client: httpx.AsyncClient, config: SandboxConfig, client_auth: dict[str, str]
) -> None:
    # RFC 6749 §5.1: scope is in the response only when the grant differs from the request.
    asked = f"{SCOPE}/sell.fulfillment.readonly {SCOPE}/commerce.identity.readonly"
    granted = f"{SCOPE}/sell.fulfillment.readonly"
    params = _consent_params(config, scope=asked, seller="sandbox_seller_1", grant_scope=granted)
    redirect = await client.get("/oauth2/authorize", params=params)
    assert redirect.status_code == 302
    code = parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": config.ru_name}
    resp = await client.post(TOKEN, data=form, headers=client_auth)
    assert resp.status_code == 200
    assert resp.json()["scope"] == granted
    headers = {"Authorization": f"Bearer {resp.json()['access_token']}"}
    assert (await client.get(ORDERS, headers=headers)).status_code == 200
    assert (await client.get("/commerce/identity/v1/user/", headers=headers)).status_code == 403
    # A refresh may not ask for the scope the seller withheld.
    refresh = {"grant_type": "refresh_token", "refresh_token": resp.json()["refresh_token"]}
    wider = await client.post(TOKEN, data={**refresh, "scope": asked}, headers=client_auth)
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"
    same = await client.post(TOKEN, data={**refresh, "scope": granted}, headers=client_auth)
    assert same.status_code == 200 and "scope" not in same.json()

    beyond = _consent_params(
        config, scope=granted, seller="sandbox_seller_1", grant_scope=f"{SCOPE}/sell.finances"
    )
    refused = await client.get("/oauth2/authorize", params=beyond)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope"
