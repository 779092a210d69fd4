"""Fault injection for API calls."""

from typing import Any

import httpx

ORDERS = "/sell/fulfillment/v1/order"
TOKEN = "/identity/v1/oauth2/token"


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
