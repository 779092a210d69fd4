"""The Post-Order and payment-dispute clients: requests as the contract wants them, and every
failure mapped onto the EbayError tree (pure: httpx.MockTransport)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from pydantic import SecretStr

from common.ebay.disputes import PaymentDisputesClient, open_date_params
from common.ebay.errors import (
    EbayAuthError,
    EbayError,
    EbayPayloadError,
    EbayRequestError,
    EbayTransientError,
)
from common.ebay.learned import MemoryLimits, halved_range
from common.ebay.postorder import (
    CASE_SEARCH,
    RETURN_SEARCH,
    PostOrderClient,
    RangeRefusedError,
    SearchPage,
)

CONTRACTS = Path(__file__).parents[3] / "services" / "ebay-sandbox" / "tests" / "contracts"
TOKEN = SecretStr("v^1.1#user-token")
Handler = Callable[[httpx.Request], httpx.Response]
Json = dict[str, Any]


def contract(name: str) -> Any:
    return orjson.loads((CONTRACTS / name).read_bytes())


def post_order(handler: Handler) -> PostOrderClient:
    return PostOrderClient(httpx.AsyncClient(transport=httpx.MockTransport(handler)), "https://api")


async def search_cases(client: PostOrderClient, offset: int = 0) -> Any:
    return await client.search(
        CASE_SEARCH,
        TOKEN,
        marketplace_id="EBAY_GB",
        filters={"case_status_filter": "OPEN"},
        offset=offset,
        limit=200,
    )


async def test_a_search_sends_the_iaf_token_the_marketplace_and_paging() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=contract("post_order/case_search.response.json"))

    page = await search_cases(post_order(handler), offset=0)
    request = seen[0]
    assert request.url.path == "/post-order/v2/casemanagement/search"
    assert request.headers["authorization"] == "IAF v^1.1#user-token"
    assert request.headers["x-ebay-c-marketplace-id"] == "EBAY_GB"
    assert dict(request.url.params) == {"case_status_filter": "OPEN", "limit": "200", "offset": "0"}
    assert [m["caseId"] for m in page.members] == [5111222333]
    assert (page.total, page.has_next) == (1, False)


async def test_the_window_uses_the_resources_own_date_parameters() -> None:
    start = datetime(2026, 2, 1, 0, 0, 0, 123456, tzinfo=UTC)
    params = RETURN_SEARCH.window_params(start, start + timedelta(days=7))
    assert params == {
        "creation_date_range_from": "2026-02-01T00:00:00.123Z",
        "creation_date_range_to": "2026-02-08T00:00:00.123Z",
    }


async def test_more_members_than_seen_means_a_next_page() -> None:
    body = contract("post_order/return_search.response.json")
    body["paginationOutput"]["totalEntries"] = 30

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=body)

    client = post_order(handler)
    page = await client.search(
        RETURN_SEARCH, TOKEN, marketplace_id="EBAY_US", filters={}, offset=10, limit=1
    )
    assert page.has_next


POST_ORDER_ERROR = contract("post_order/error.response.json")


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected"),
    [
        (
            401,
            {"errors": [{"errorId": 1001, "message": "Invalid access token"}]},
            {},
            EbayAuthError,
        ),
        (
            429,
            {"errors": [{"errorId": 2001, "message": "Too many requests."}]},
            {},
            EbayTransientError,
        ),
        (500, {"error": [{"errorId": 1000, "message": "internal error"}]}, {}, EbayTransientError),
        (503, b"<html>unavailable</html>", {}, EbayTransientError),
        (400, POST_ORDER_ERROR, {}, EbayRequestError),
        (400, {"errorMessage": POST_ORDER_ERROR}, {}, EbayRequestError),
        (403, {"errors": [{"errorId": 1100, "message": "Access denied"}]}, {}, EbayRequestError),
        (404, {"error": [{"errorId": 1002, "message": "not found"}]}, {}, EbayRequestError),
    ],
)
async def test_failures_map_onto_the_error_tree(
    status: int, body: object, headers: dict[str, str], expected: type[EbayError]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(body, bytes):
            return httpx.Response(status, content=body, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    with pytest.raises(expected) as raised:
        await search_cases(post_order(handler))
    assert type(raised.value) is expected
    assert raised.value.status == status


async def test_the_post_order_error_envelope_names_the_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"errorMessage": POST_ORDER_ERROR})

    with pytest.raises(EbayRequestError, match="errorId 292023: A valid tracking number"):
        await search_cases(post_order(handler))


async def test_retry_after_is_honoured() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429, json={"errors": [{"errorId": 2001}]}, headers={"Retry-After": "7"}
        )

    with pytest.raises(EbayTransientError) as raised:
        await search_cases(post_order(handler))
    assert raised.value.retry_after == 7.0


async def test_a_dropped_connection_is_transient() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("peer closed connection", request=request)

    with pytest.raises(EbayTransientError):
        await search_cases(post_order(handler))


@pytest.mark.parametrize(
    "content",
    [
        b'{"members": [{"caseId": 1}',
        b"[]",
        b'{"members": {}}',
        b'{"paginationOutput": []}',
        b'{"members": [], "paginationOutput": {"totalEntries": "many"}}',
    ],
)
async def test_an_unreadable_body_is_a_payload_error(content: bytes) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=content)

    with pytest.raises(EbayPayloadError):
        await search_cases(post_order(handler))


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"members": []},
        {"paginationOutput": {}},
        {"members": [], "paginationOutput": {"limit": 200, "offset": 0}},
        {"members": [], "paginationOutput": None},
    ],
)
async def test_an_empty_result_without_paging_fields_is_an_empty_page(body: Json) -> None:
    page = await search_cases(post_order(lambda request: httpx.Response(200, json=body)))
    assert (page.members, page.total, page.has_next) == ([], None, False)


async def test_members_without_a_total_continue_while_pages_are_full() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        size = 2 if request.url.params["offset"] == "0" else 1
        return httpx.Response(200, json={"members": [{"caseId": i} for i in range(size)]})

    client = post_order(handler)

    async def at(offset: int) -> SearchPage:
        return await client.search(
            CASE_SEARCH, TOKEN, marketplace_id="EBAY_US", filters={}, offset=offset, limit=2
        )

    first = await at(0)
    assert (first.total, first.has_next) == (None, True)
    assert not (await at(2)).has_next


def refusing_limits_above(maximum: int, seen: list[int]) -> Handler:
    """A Post-Order search that refuses a larger ``limit`` as the sandbox's strict variant does."""

    def handler(request: httpx.Request) -> httpx.Response:
        limit = int(request.url.params["limit"])
        seen.append(limit)
        if limit > maximum:
            error = {
                "errorId": 1003,
                "message": "The value of limit is invalid.",
                "parameter": [{"name": "input", "value": f"limit={limit}"}],
            }
            return httpx.Response(400, json={"error": [error]})
        return httpx.Response(200, json=contract("post_order/case_search.response.json"))

    return handler


async def test_a_refused_limit_is_halved_until_accepted_then_remembered() -> None:
    seen: list[int] = []
    learned = MemoryLimits()
    client = PostOrderClient(
        httpx.AsyncClient(transport=httpx.MockTransport(refusing_limits_above(60, seen))),
        "https://api",
        learned,
    )
    page = await search_cases(client)
    assert seen == [200, 100, 50]
    assert (page.limit, learned.values) == (50, {"postorder.casemanagement.limit": 50})
    seen.clear()
    await search_cases(client)
    assert seen == [50]  # the next search makes no refused call


async def test_a_limit_refused_at_every_size_learns_nothing() -> None:
    seen: list[int] = []
    learned = MemoryLimits()
    client = PostOrderClient(
        httpx.AsyncClient(transport=httpx.MockTransport(refusing_limits_above(0, seen))),
        "https://api",
        learned,
    )
    with pytest.raises(EbayRequestError):
        await search_cases(client)
    assert seen == [200, 100, 50, 25, 12, 6, 3, 1]
    assert learned.values == {}


async def test_a_refused_date_range_is_the_callers_to_split() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        error = {
            "errorId": 1003,
            "message": "The value of case_creation_date_range_from is invalid.",
        }
        return httpx.Response(400, json={"error": [error]})

    with pytest.raises(RangeRefusedError):
        await search_cases(post_order(handler))


async def test_another_resources_date_parameter_is_not_this_ones() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        error = {"errorId": 1003, "message": "The value of creation_date_range_from is invalid."}
        return httpx.Response(400, json={"error": [error]})

    with pytest.raises(EbayRequestError) as raised:
        await search_cases(post_order(handler))
    assert type(raised.value) is EbayRequestError


def disputes(handler: Handler) -> PaymentDisputesClient:
    return PaymentDisputesClient(
        httpx.AsyncClient(transport=httpx.MockTransport(handler)), "https://apiz"
    )


async def test_dispute_summaries_use_bearer_on_apiz_and_page() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = {
            "total": 3,
            "limit": 2,
            "offset": 0,
            "next": "https://apiz/…?offset=2",
            "paymentDisputeSummaries": [{"paymentDisputeId": "1"}, {"paymentDisputeId": "2"}],
        }
        return httpx.Response(200, json=body)

    start = datetime(2026, 1, 1, tzinfo=UTC)
    page = await disputes(handler).get_summaries(
        TOKEN, filters=open_date_params(start, start + timedelta(days=90)), offset=0, limit=2
    )
    request = seen[0]
    assert request.url.host == "apiz"
    assert request.url.path == "/sell/fulfillment/v1/payment_dispute_summary"
    assert request.headers["authorization"] == "Bearer v^1.1#user-token"
    assert dict(request.url.params) == {
        "open_date_from": "2026-01-01T00:00:00.000Z",
        "open_date_to": "2026-04-01T00:00:00.000Z",
        "limit": "2",
        "offset": "0",
    }
    assert (len(page.disputes), page.total, page.has_next) == (2, 3, True)


def test_an_open_date_range_over_90_days_is_refused_before_calling() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(EbayRequestError, match="90 days"):
        open_date_params(start, start + timedelta(days=90, seconds=1))


async def test_a_dispute_error_maps_onto_the_error_tree() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400, json={"errors": [{"errorId": 33001, "message": "Invalid input request"}]}
        )

    with pytest.raises(EbayRequestError, match="33001"):
        await disputes(handler).get_summaries(TOKEN, filters={}, offset=0, limit=200)


async def test_a_dispute_answer_without_total_is_a_payload_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"paymentDisputeSummaries": []})

    with pytest.raises(EbayPayloadError):
        await disputes(handler).get_summaries(TOKEN, filters={}, offset=0, limit=200)


def test_a_refused_range_halves_in_whole_minutes_down_to_an_hour() -> None:
    assert halved_range(timedelta(days=113, seconds=7)) == timedelta(days=56, hours=12)
    assert halved_range(timedelta(minutes=121)) == timedelta(minutes=60)
    assert halved_range(timedelta(minutes=119)) is None
