"""Fault injection for API calls."""

import json
import time
import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest

from ebay_sandbox.consent import approve_consent
from ebay_sandbox.settings import SandboxConfig
from testkit.sandbox import serve_sandbox

ORDERS = "/sell/fulfillment/v1/order"
TOKEN = "/identity/v1/oauth2/token"
SCOPES = "https://api.ebay.com/oauth/api_scope/sell.fulfillment.readonly"


def trading_headers(call: str, token: str) -> dict[str, str]:
    return {
        "X-EBAY-API-CALL-NAME": call,
        "X-EBAY-API-SITEID": "0",
        "X-EBAY-API-COMPATIBILITY-LEVEL": "1355",
        "X-EBAY-API-IAF-TOKEN": token,
    }


def trading_body(call: str, inner: str) -> str:
    return f'<{call}Request xmlns="urn:ebay:apis:eBLBaseComponents">{inner}</{call}Request>'


async def test_http_429_for_next_calls(
    client: httpx.AsyncClient, login: Any, observed_errors: Any
) -> None:
    tokens = await login("sandbox_seller_1")
    fault = {"username": "sandbox_seller_1", "kind": "http_429", "count": 2}
    resp = await client.post("/sandbox/faults", json=fault)
    assert resp.json() == {"username": "sandbox_seller_1", "pending": 2}
    for _ in range(2):
        resp = await client.get(ORDERS, headers=tokens.headers)
        assert resp.status_code == 429
        assert resp.json() == observed_errors["429_call_limit_reached"]["body"]
        assert "retry-after" not in resp.headers
    assert (await client.get(ORDERS, headers=tokens.headers)).status_code == 200


async def test_retry_after_429(client: httpx.AsyncClient, login: Any) -> None:
    tokens = await login("sandbox_seller_1")
    fault = {
        "username": "sandbox_seller_1",
        "kind": "retry_after_429",
        "count": 1,
        "retry_after": 7,
    }
    await client.post("/sandbox/faults", json=fault)
    resp = await client.get("/commerce/identity/v1/user/", headers=tokens.headers)
    assert resp.status_code == 429
    assert resp.headers["retry-after"] == "7"
    assert (await client.get("/commerce/identity/v1/user/", headers=tokens.headers)).is_success


async def test_http_500(client: httpx.AsyncClient, login: Any, fulfillment_spec: Any) -> None:
    tokens = await login("sandbox_seller_1")
    await client.post("/sandbox/faults", json={"username": "sandbox_seller_1", "kind": "http_500"})
    resp = await client.get(ORDERS, headers=tokens.headers)
    assert resp.status_code == 500
    error = resp.json()["errors"][0]
    fulfillment_spec.validate("ErrorDetailV3", error)
    assert (error["errorId"], error["domain"], error["category"]) == (
        30500,
        "API_FULFILLMENT",
        "APPLICATION",
    )


async def test_faults_are_per_seller_and_spare_oauth(
    client: httpx.AsyncClient, login: Any, client_auth: dict[str, str]
) -> None:
    one, two = await login("sandbox_seller_1"), await login("sandbox_seller_2")
    await client.post("/sandbox/faults", json={"username": "sandbox_seller_1", "kind": "http_500"})
    assert (await client.get(ORDERS, headers=two.headers)).status_code == 200
    form = {"grant_type": "refresh_token", "refresh_token": one.refresh_token}
    assert (await client.post(TOKEN, data=form, headers=client_auth)).status_code == 200
    # An invalid token is rejected before a fault is consumed.
    bad = {"Authorization": "Bearer nope"}
    assert (await client.get(ORDERS, headers=bad)).status_code == 401
    assert (await client.get(ORDERS, headers=one.headers)).status_code == 500
    assert (await client.get(ORDERS, headers=one.headers)).status_code == 200


async def test_faults_queue_and_clear(client: httpx.AsyncClient, login: Any) -> None:
    tokens = await login("sandbox_seller_1")
    await client.post("/sandbox/faults", json={"username": "sandbox_seller_1", "kind": "http_500"})
    resp = await client.post(
        "/sandbox/faults", json={"username": "sandbox_seller_1", "kind": "http_429", "count": 3}
    )
    assert resp.json()["pending"] == 4
    assert (await client.get(ORDERS, headers=tokens.headers)).status_code == 500
    assert (await client.get(ORDERS, headers=tokens.headers)).status_code == 429
    assert (await client.delete("/sandbox/faults")).json() == {"cleared": True}
    assert (await client.get(ORDERS, headers=tokens.headers)).status_code == 200


async def test_fault_validation(client: httpx.AsyncClient) -> None:
    unknown = {"username": "nobody", "kind": "http_500"}
    assert (await client.post("/sandbox/faults", json=unknown)).status_code == 404
    bad_kind = {"username": "sandbox_seller_1", "kind": "http_418"}
    assert (await client.post("/sandbox/faults", json=bad_kind)).status_code == 422
    zero = {"username": "sandbox_seller_1", "kind": "http_500", "count": 0}
    assert (await client.post("/sandbox/faults", json=zero)).status_code == 422


# --- every fault kind, per API style ---------------------------------------------------------

TRANSACTIONS = "/sell/finances/v1/transaction"
CASES = "/post-order/v2/casemanagement/search"
XML_ACTIVE = "<ActiveList><Pagination><EntriesPerPage>5</EntriesPerPage></Pagination></ActiveList>"


async def fault(client: httpx.AsyncClient, **body: Any) -> None:
    resp = await client.post("/sandbox/faults", json={"username": "sandbox_seller_1", **body})
    assert resp.status_code == 200, resp.text


async def test_http_5xx_in_each_api_style(
    client: httpx.AsyncClient, login: Any, trading: Any, post_order_schemas: Any, finances_spec: Any
) -> None:
    tokens = await login()
    await fault(client, kind="http_5xx", status=503, family="transactions")
    resp = await client.get(TRANSACTIONS, headers=tokens.headers)
    assert resp.status_code == 503
    finances_spec.validate("Error", resp.json()["errors"][0])
    assert resp.json()["errors"][0]["errorId"] == 135000
    await fault(client, kind="http_5xx", status=502, family="cases")
    resp = await client.get(CASES, headers=tokens.iaf)
    assert resp.status_code == 502
    post_order_schemas.validate("Error", resp.json())
    await fault(client, kind="http_5xx", status=504)
    reply = await trading("GetUser", token=tokens.access_token)
    assert (reply.status, reply.ack, reply.error_codes) == (504, "Failure", ["10007"])
    assert (await trading("GetUser", token=tokens.access_token)).ack == "Success"


async def test_429_in_each_api_style(client: httpx.AsyncClient, login: Any, trading: Any) -> None:
    tokens = await login()
    await fault(client, kind="retry_after_429", retry_after=3, family="cases")
    resp = await client.get(CASES, headers=tokens.iaf)
    assert (resp.status_code, resp.headers["retry-after"]) == (429, "3")
    await fault(client, kind="http_429", family="active_inventory")
    reply = await trading("GetMyeBaySelling", XML_ACTIVE, token=tokens.access_token)
    assert (reply.status, reply.error_codes) == (429, ["2001"])
    assert (await trading("GetMyeBaySelling", XML_ACTIVE, token=tokens.access_token)).status == 200


async def test_daily_quota_lasts_until_the_pacific_midnight_reset(
    client: httpx.AsyncClient, login: Any, trading: Any, observed_errors: Any, advance: Any
) -> None:
    tokens = await login()
    await fault(client, kind="quota_518")
    await fault(client, kind="quota_2001", family="transactions")
    for _ in range(3):
        reply = await trading(
            "GetMyMessages", "<DetailLevel>ReturnSummary</DetailLevel>", token=tokens.access_token
        )
        assert (reply.status, reply.ack, reply.error_codes) == (200, "Failure", ["518"])
        resp = await client.get(TRANSACTIONS, headers=tokens.headers)
        assert (resp.status_code, resp.json()) == (
            429,
            observed_errors["429_call_limit_reached"]["body"],
        )
        assert "retry-after" not in resp.headers
    assert (
        await client.get("/sell/fulfillment/v1/order", headers=tokens.headers)
    ).status_code == 200
    # The sandbox clock starts 2025-06-01T12:00Z = 05:00 in Los Angeles; the reset is 07:00Z.
    await advance(19 * 3600 - 1)
    tokens = await login()  # the old access token expired meanwhile
    assert (await trading("GetUser", token=tokens.access_token)).error_codes == ["518"]
    await advance(2)
    tokens = await login()
    assert (await trading("GetUser", token=tokens.access_token)).ack == "Success"
    assert (await client.get(TRANSACTIONS, headers=tokens.headers)).status_code == 200


async def test_counted_quota_faults(client: httpx.AsyncClient, login: Any) -> None:
    tokens = await login()
    await fault(client, kind="quota_2001", count=2)
    for status in (429, 429, 200):
        assert (await client.get(TRANSACTIONS, headers=tokens.headers)).status_code == status


async def test_latency(client: httpx.AsyncClient, login: Any) -> None:
    tokens = await login()
    await fault(client, kind="latency", delay_seconds=0.3)
    started = time.monotonic()
    assert (await client.get(TRANSACTIONS, headers=tokens.headers)).status_code == 200
    assert time.monotonic() - started >= 0.3


async def test_expired_token_fault_expires_the_token(
    client: httpx.AsyncClient, login: Any, client_auth: dict[str, str], trading: Any
) -> None:
    tokens = await login()
    await fault(client, kind="expired_token", family="orders")
    assert (await client.get(ORDERS, headers=tokens.headers)).status_code == 401
    assert (await client.get(ORDERS, headers=tokens.headers)).status_code == 401, "stays expired"
    form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
    fresh = (await client.post(TOKEN, data=form, headers=client_auth)).json()["access_token"]
    assert (
        await client.get(ORDERS, headers={"Authorization": f"Bearer {fresh}"})
    ).status_code == 200
    await fault(client, kind="expired_token")
    assert (await trading("GetUser", token=fresh)).error_codes == ["21917053"]


async def test_revoked_token_fault_forces_a_new_consent(
    client: httpx.AsyncClient, login: Any, client_auth: dict[str, str], trading: Any
) -> None:
    tokens = await login()
    await fault(client, kind="revoked_token")
    assert (await client.get(TRANSACTIONS, headers=tokens.headers)).status_code == 401
    form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
    resp = await client.post(TOKEN, data=form, headers=client_auth)
    assert (resp.status_code, resp.json()["error"]) == (400, "invalid_grant")
    other = await login()
    await fault(client, kind="revoked_token", family="messages")
    reply = await trading(
        "GetMyMessages", "<DetailLevel>ReturnSummary</DetailLevel>", token=other.access_token
    )
    assert reply.error_codes == ["932"]


async def test_malformed_bodies(client: httpx.AsyncClient, login: Any, trading: Any) -> None:
    tokens = await login()
    await fault(client, kind="malformed_xml")  # waits for the next XML call
    await fault(client, kind="malformed_json")
    resp = await client.get(TRANSACTIONS, headers=tokens.headers)
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(resp.content)
    resp = await client.post(
        "/ws/api.dll",
        content=trading_body("GetUser", ""),
        headers=trading_headers("GetUser", tokens.access_token),
    )
    assert resp.status_code == 200
    with pytest.raises(ET.ParseError):
        ET.fromstring(resp.content)
    assert (await trading("GetUser", token=tokens.access_token)).ack == "Success"


async def test_oversized_pages(client: httpx.AsyncClient, login: Any, trading: Any) -> None:
    tokens = await login()
    await fault(client, kind="oversized_page", page_items=120, count=2)
    assert (await client.get("/commerce/identity/v1/user/", headers=tokens.headers)).is_success
    resp = await client.get(ORDERS, params={"limit": "10"}, headers=tokens.headers)
    body = resp.json()
    assert (body["limit"], len(body["orders"])) == (10, 120)
    assert "offset=120" in body["next"]
    reply = await trading("GetMyeBaySelling", XML_ACTIVE, token=tokens.access_token)
    assert len(reply.findall("ActiveList/ItemArray/Item")) > 5
    resp = await client.get(ORDERS, params={"limit": "10"}, headers=tokens.headers)
    assert len(resp.json()["orders"]) == 10


async def test_faults_follow_their_family(client: httpx.AsyncClient, login: Any) -> None:
    tokens = await login()
    await fault(client, kind="http_500", family="payouts", count=2)
    assert (await client.get(TRANSACTIONS, headers=tokens.headers)).status_code == 200
    assert (await client.get(ORDERS, headers=tokens.headers)).status_code == 200
    resp = await client.get("/sell/finances/v1/payout", headers=tokens.headers)
    assert resp.status_code == 500
    listed = (await client.get("/sandbox/faults")).json()
    assert listed == [
        {
            "username": "sandbox_seller_1",
            "kind": "http_500",
            "family": "payouts",
            "remaining": 1,
            "until_ms": None,
        }
    ]
    bad = {"username": "sandbox_seller_1", "kind": "http_500", "family": "colours"}
    assert (await client.post("/sandbox/faults", json=bad)).status_code == 422


# --- over real HTTP: held and dropped connections --------------------------------------------


async def _http_login(http: httpx.AsyncClient, config: SandboxConfig) -> str:
    code = await approve_consent(
        http,
        username="sandbox_seller_1",
        client_id=config.client_id,
        ru_name=config.ru_name,
        scopes=SCOPES,
    )
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": config.ru_name}
    auth = (config.client_id, config.client_secret.get_secret_value())
    resp = await http.post(TOKEN, data=form, auth=auth)
    token: str = resp.json()["access_token"]
    return token


async def test_timeout_and_dropped_connection_over_http(config: SandboxConfig) -> None:
    async with serve_sandbox(config) as url, httpx.AsyncClient(base_url=url, timeout=5) as http:
        headers = {"Authorization": f"Bearer {await _http_login(http, config)}"}
        await fault(http, kind="timeout")  # held far longer than any client waits
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            await http.get(ORDERS, headers=headers, timeout=0.5)
        assert time.monotonic() - started < 3
        assert (await http.get(ORDERS, headers=headers)).status_code == 200
        await fault(http, kind="drop_connection", count=2)
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(ORDERS, headers=headers)
        body = trading_body("GetUser", "")
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post(
                "/ws/api.dll",
                content=body,
                headers=trading_headers("GetUser", headers["Authorization"][7:]),
            )
        assert (await http.get(ORDERS, headers=headers)).status_code == 200
        stats = (await http.get("/sandbox/stats")).json()
        assert stats["endpoints"]["GET getOrders"] == 4
