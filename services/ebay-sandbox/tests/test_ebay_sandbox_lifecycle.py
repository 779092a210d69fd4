"""Orders live: advancing the clock changes states, adds orders, and filters see it."""

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

ORDERS = "/sell/fulfillment/v1/order"
Json = dict[str, Any]
Walk = Callable[..., Awaitable[list[Json]]]
PAYMENT_RANK = {"PENDING": 0, "PAID": 1, "PARTIALLY_REFUNDED": 2, "FULLY_REFUNDED": 3}
FULFILLMENT_RANK = {"NOT_STARTED": 0, "IN_PROGRESS": 1, "FULFILLED": 2}


def by_id(orders: list[Json]) -> dict[str, Json]:
    return {o["orderId"]: o for o in orders}


async def test_advancing_the_clock_changes_orders(
    client: httpx.AsyncClient,
    login: Any,
    truth: Any,
    advance: Callable[[float], Awaitable[str]],
    sandbox_now: Callable[[], Awaitable[str]],
    walk_pages: Walk,
) -> None:
    before = by_id(await truth())
    then = await sandbox_now()
    await advance(3 * 86400)
    after = by_id(await truth())

    new = set(after) - set(before)
    assert new, "new orders appear as time passes"
    assert all(after[i]["creationDate"] > then for i in new)
    assert set(before) <= set(after), "nothing disappears within the two-year horizon"
    changed = {i for i in before if after[i] != before[i]}
    assert changed, "existing orders move on"
    for i in changed:
        old, cur = before[i], after[i]
        assert cur["lastModifiedDate"] > old["lastModifiedDate"] >= old["creationDate"]
        assert cur["creationDate"] == old["creationDate"]
        assert PAYMENT_RANK[cur["orderPaymentStatus"]] >= PAYMENT_RANK[old["orderPaymentStatus"]]
        if old["cancelStatus"]["cancelState"] == "NONE_REQUESTED":
            assert (
                FULFILLMENT_RANK[cur["orderFulfillmentStatus"]]
                >= FULFILLMENT_RANK[old["orderFulfillmentStatus"]]
            )
    unchanged = set(before) - changed
    assert all(after[i]["lastModifiedDate"] <= then for i in unchanged)
    assert any(
        before[i]["orderFulfillmentStatus"] != after[i]["orderFulfillmentStatus"] for i in changed
    )

    # An incremental sync from the previous "now" sees exactly the changed and new orders.
    tokens = await login()
    walked = await walk_pages(tokens.headers, filter=f"lastmodifieddate:[{then}..]")
    assert {o["orderId"] for o in walked} == changed | new
    assert walked == [o for o in await truth() if o["orderId"] in changed | new]


async def test_getorder_sees_state_at_sandbox_time(
    client: httpx.AsyncClient,
    login: Any,
    truth: Any,
    advance: Callable[[float], Awaitable[str]],
) -> None:
    tokens = await login()
    fresh = [o for o in await truth() if o["orderFulfillmentStatus"] == "NOT_STARTED"]
    pending = next(o for o in fresh if o["cancelStatus"]["cancelState"] == "NONE_REQUESTED")
    url = f"{ORDERS}/{pending['orderId']}"
    assert (await client.get(url, headers=tokens.headers)).json()["lastModifiedDate"] == pending[
        "lastModifiedDate"
    ]
    await advance(40 * 86400)
    tokens = await login()
    later = (await client.get(url, headers=tokens.headers)).json()
    assert later["lastModifiedDate"] > pending["lastModifiedDate"]
    assert later["orderFulfillmentStatus"] != "NOT_STARTED" or (
        later["cancelStatus"]["cancelState"] == "CANCELED"
    )


async def test_no_orders_from_the_future(client: httpx.AsyncClient, truth: Any) -> None:
    now = datetime.fromisoformat((await client.get("/sandbox/clock")).json()["now"])
    for username in ("sandbox_seller_1", "sandbox_seller_2", "sandbox_seller_3"):
        orders = await truth(username)
        assert orders
        assert all(datetime.fromisoformat(o["lastModifiedDate"]) <= now for o in orders)
        first = min(datetime.fromisoformat(o["creationDate"]) for o in orders)
        assert now - timedelta(days=121) < first < now - timedelta(days=118)


async def test_same_seed_same_sandbox(make_client: Callable[..., Any]) -> None:
    async def snapshot(**overrides: Any) -> list[Any]:
        async with make_client(**overrides) as c:
            sellers = (await c.get("/sandbox/sellers")).json()
            orders = [
                (await c.get(f"/sandbox/sellers/{s['username']}/orders")).json() for s in sellers
            ]
            return [sellers, orders]

    small = {"sellers": 2, "orders_per_day": 5}
    first = await snapshot(seed=11, **small)
    assert first == await snapshot(seed=11, **small)
    assert first != await snapshot(seed=12, **small)


@pytest.mark.parametrize("bound", ["modified_from", "modified_to"])
async def test_ground_truth_range_is_inclusive(
    client: httpx.AsyncClient, truth: Any, bound: str
) -> None:
    everything = await truth()
    pivot = everything[len(everything) // 3]["lastModifiedDate"]
    ranged = await truth(**{bound: pivot})
    if bound == "modified_from":
        expected = [o for o in everything if o["lastModifiedDate"] >= pivot]
    else:
        expected = [o for o in everything if o["lastModifiedDate"] <= pivot]
    assert ranged == expected
    assert pivot in {o["lastModifiedDate"] for o in ranged}


async def test_ground_truth_unknown_seller(client: httpx.AsyncClient) -> None:
    assert (await client.get("/sandbox/sellers/nobody/orders")).status_code == 404


def test_a_pinned_origin_serves_the_same_history_after_a_restart() -> None:
    """Two sandboxes started apart, with one origin, hold the same orders while time runs."""
    from datetime import UTC, datetime, timedelta

    from ebay_sandbox.settings import SandboxConfig
    from ebay_sandbox.state import Sandbox

    origin = datetime.now(UTC) - timedelta(hours=1)
    first = Sandbox(SandboxConfig(seed=7, sellers=1, origin=origin))
    second = Sandbox(SandboxConfig(seed=7, sellers=1, origin=origin, clock_offset_seconds=60))
    seller = first.sellers[0]
    now_ms = first.clock.now_ms()
    orders_first, orders_second = first.world(seller).orders, second.world(seller).orders
    ids_first = [orders_first.get(i).order_id for i in orders_first.between(0, now_ms)]
    ids_second = [orders_second.get(i).order_id for i in orders_second.between(0, now_ms)]
    assert ids_first
    assert ids_first == ids_second
