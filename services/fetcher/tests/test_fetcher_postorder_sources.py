"""Which filters each phase of the Post-Order and payment-dispute sources sends: pure."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from common.ebay.errors import EbayRequestError
from common.ebay.learned import MemoryLimits
from common.ebay.postorder import (
    CASE_SEARCH,
    INQUIRY_SEARCH,
    RETURN_SEARCH,
    PostOrderClient,
    PostOrderSearch,
    RangeRefusedError,
)
from common.families import Family
from common.messages import SyncWindow, Trigger
from fetcher.sources.base import PageRequest
from fetcher.sources.postorder import (
    REFRESH_HORIZON,
    STRIDE,
    PhaseQuery,
    PostOrderSource,
    chunk_at,
    dispute_filters,
    lookback_span,
    phase_query,
    post_order_filters,
    searched_range,
)
from fetcher.tokens import AccountToken

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def window(start: datetime, end: datetime, family: Family = Family.CASES) -> SyncWindow:
    return SyncWindow(
        run_id=uuid.uuid4(),
        account_id=1,
        family=family,
        window_from=start,
        window_to=end,
        trigger=Trigger.SCHEDULE,
        issued_at=NOW,
    )


LATEST = window(NOW - timedelta(days=1), NOW - timedelta(minutes=2))


def test_the_window_phase_filters_on_the_creation_date() -> None:
    filters = post_order_filters(CASE_SEARCH, Family.CASES, "window", LATEST, REFRESH_HORIZON)
    assert filters == {
        "case_creation_date_range_from": "2026-11-19T12:00:00.000Z",
        "case_creation_date_range_to": "2026-11-20T11:58:00.000Z",
    }


@pytest.mark.parametrize(
    ("search", "family", "expected"),
    [
        (RETURN_SEARCH, Family.RETURNS, {"return_state": "ALL_OPEN"}),
        (CASE_SEARCH, Family.CASES, {"case_status_filter": "OPEN"}),
        (INQUIRY_SEARCH, Family.INQUIRIES, {"inquiry_status": "OPEN"}),
    ],
)
def test_the_open_phase_has_the_open_filter_and_no_dates(
    search: PostOrderSearch, family: Family, expected: dict[str, str]
) -> None:
    assert post_order_filters(search, family, "open", LATEST, REFRESH_HORIZON) == expected


def test_the_recent_phase_rereads_what_was_created_within_the_horizon_before_the_window() -> None:
    filters = post_order_filters(
        RETURN_SEARCH, Family.RETURNS, "recent", LATEST, timedelta(days=120)
    )
    assert filters == {
        "creation_date_range_from": "2026-07-23T11:58:00.000Z",
        "creation_date_range_to": "2026-11-19T12:00:00.000Z",
    }


def test_the_recent_phase_never_reaches_past_the_lookback() -> None:
    filters = post_order_filters(
        RETURN_SEARCH, Family.RETURNS, "recent", LATEST, timedelta(days=1000)
    )
    assert filters is not None
    assert filters["creation_date_range_from"] == "2025-05-29T12:00:00.000Z"  # NOW - 540 days


def test_a_window_longer_than_the_horizon_has_nothing_recent_to_reread() -> None:
    backfill = window(NOW - timedelta(days=200), NOW - timedelta(days=30))
    assert (
        post_order_filters(CASE_SEARCH, Family.CASES, "recent", backfill, timedelta(days=120))
        is None
    )


def test_disputes_window_then_every_open_and_recently_closed_one() -> None:
    disputes = window(NOW - timedelta(days=7), NOW, Family.PAYMENT_DISPUTES)
    assert dispute_filters("window", disputes) == {
        "open_date_from": "2026-11-13T12:00:00.000Z",
        "open_date_to": "2026-11-20T12:00:00.000Z",
    }
    assert dispute_filters("open", disputes) == {}


def test_a_dispute_window_over_90_days_is_a_request_error() -> None:
    too_long = window(NOW - timedelta(days=91), NOW, Family.PAYMENT_DISPUTES)
    with pytest.raises(EbayRequestError):
        dispute_filters("window", too_long)


def test_an_unknown_phase_is_a_bug() -> None:
    with pytest.raises(ValueError, match="unknown phase"):
        post_order_filters(CASE_SEARCH, Family.CASES, "later", LATEST, REFRESH_HORIZON)


# --- chunked phases: a date range longer than eBay accepts --------------------------------

SPAN = (NOW - timedelta(days=10), NOW)


def test_a_chunked_phase_walks_its_span_in_pieces_of_the_learned_range() -> None:
    first = chunk_at(SPAN, timedelta(days=4), 0)
    assert (first.span, first.local) == ((SPAN[0], SPAN[0] + timedelta(days=4)), 0)
    assert first.following == 4 * 24 * 60 * STRIDE
    inside = chunk_at(SPAN, timedelta(days=4), first.following + 7)
    assert inside.span == (SPAN[0] + timedelta(days=4), SPAN[0] + timedelta(days=8))
    assert inside.local == 7
    last = chunk_at(SPAN, timedelta(days=4), 8 * 24 * 60 * STRIDE)
    assert (last.span, last.following) == ((SPAN[0] + timedelta(days=8), NOW), None)


def test_a_smaller_range_learned_mid_phase_keeps_the_chunk_start() -> None:
    position = 4 * 24 * 60 * STRIDE
    assert chunk_at(SPAN, timedelta(days=1), position).span == (
        SPAN[0] + timedelta(days=4),
        SPAN[0] + timedelta(days=5),
    )


def test_the_date_less_open_phase_is_the_whole_lookback_once_dates_are_needed() -> None:
    query = phase_query(CASE_SEARCH, Family.CASES, "open", LATEST, REFRESH_HORIZON)
    assert query == PhaseQuery({"case_status_filter": "OPEN"}, None)
    assert searched_range(query, LATEST, Family.CASES, None) == timedelta(days=540)
    assert searched_range(query, LATEST, Family.CASES, timedelta(days=30)) == timedelta(days=30)
    assert lookback_span(LATEST, Family.CASES) == (NOW - timedelta(days=540), NOW)


def refusing(days: float | None, seen: list[dict[str, str]]) -> PostOrderClient:
    """A case search that refuses a range over ``days`` (None: every dated range) and answers one
    member per accepted call."""

    def handler(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        seen.append(params)
        start = params.get("case_creation_date_range_from")
        end = params.get("case_creation_date_range_to")
        too_long = start is None or days is None
        if start is not None and end is not None and days is not None:
            span = datetime.fromisoformat(end) - datetime.fromisoformat(start)
            too_long = span > timedelta(days=days)
        if too_long:
            message = f"The value of case_creation_date_range_from is invalid ({start})."
            return httpx.Response(400, json={"error": [{"errorId": 1003, "message": message}]})
        return httpx.Response(200, json={"members": [{"caseId": len(seen)}]})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return PostOrderClient(http, "https://api", MemoryLimits())


def request(phase: str, offset: int = 0) -> PageRequest:
    account = AccountToken(SecretStr("t"), "EBAY_US", 0)
    return PageRequest(LATEST, account, phase, offset)


async def test_a_refused_open_search_learns_a_range_and_reads_the_lookback_in_chunks() -> None:
    seen: list[dict[str, str]] = []
    client = refusing(200, seen)
    source = PostOrderSource(client, CASE_SEARCH, Family.CASES, page_size=1)
    page = await source.page(request("open"))
    # Date-less (540 days) refused, then 270 days refused; 135 days accepted and recorded.
    assert [("case_creation_date_range_from" in p) for p in seen] == [False, True, True]
    assert await client.max_range(CASE_SEARCH) == timedelta(days=135)
    assert seen[-1]["case_status_filter"] == "OPEN"
    assert (page.shape.consumed, page.shape.total, page.shape.has_next) == (1, None, True)
    seen.clear()
    # The next page asks with the learned range at once: no refused call.
    await source.page(request("open", page.shape.consumed))
    assert len(seen) == 1


async def test_a_range_refused_at_every_length_fails_and_learns_nothing() -> None:
    seen: list[dict[str, str]] = []
    client = refusing(None, seen)
    source = PostOrderSource(client, CASE_SEARCH, Family.CASES)
    with pytest.raises(RangeRefusedError):
        await source.page(request("window"))
    assert await client.max_range(CASE_SEARCH) is None
    # The window with its due recent span (120 days, 172,800 minutes), then 86,400, 43,200 …
    # 168 and 84; 42 would be under an hour: given up.
    assert len(seen) == 12
