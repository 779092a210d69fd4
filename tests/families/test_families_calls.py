"""What a caught-up run costs, counted at the sandbox, and that a cheap run still sees changes.

Each family syncs its backfill, then runs a caught-up window (the last minutes) at once: its
refresh phases are not due (``PHASE_CADENCES``), so it makes at most one call per due phase,
and messages, with nothing changed, exactly one (their ReturnSummary). Then the clock moves on:
the next run's phases are due again, it still makes at most one search per due phase, and the
mirror equals the sandbox again — the changed messages and claims are picked up.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from common.families import PHASE_CADENCES, Family
from common.messages import PageBatch
from ebay_sandbox.settings import SandboxConfig
from ebaysync.truths import TRUTHS, FamilyTruth
from testkit.pipeline import Pipeline, Seller, pipeline_fixture

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

Records = dict[str, dict[str, Any]]

# The listing calls of each family, as the sandbox names them (detail calls are extra: one per
# entity whose summary changed, none when nothing did).
SEARCHES = {
    Family.TRANSACTIONS: "GET getTransactions",
    Family.FINANCES: "GET getPayouts",
    Family.CASES: "GET searchCase",
    Family.INQUIRIES: "GET searchInquiry",
    Family.RETURNS: "GET searchReturn",
    Family.PAYMENT_DISPUTES: "GET getPaymentDisputeSummaries",
    Family.MESSAGES: "POST /ws/api.dll GetMyMessages",
}
# Calls that are no family's (tokens, signing keys, the sandbox's own control endpoints).
NOT_EBAY = ("/sandbox", "oauth", "SigningKey", "token")


pipeline = pipeline_fixture(
    SandboxConfig(
        sellers=1, profile="small", orders_per_day=40, messages_per_day=6, clock_frozen=True
    )
)


async def endpoint_calls(pipeline: Pipeline) -> Counter[str]:
    stats = (await pipeline.http.get(f"{pipeline.sandbox_url}/sandbox/stats")).json()
    return Counter({k: int(v) for k, v in stats["endpoints"].items()})


async def calls_of_run(
    pipeline: Pipeline, seller: Seller, family: Family, minutes: int
) -> Counter[str]:
    """The eBay calls of one run over the last ``minutes``, by endpoint."""
    before = await endpoint_calls(pipeline)
    now = await pipeline.sandbox_now()
    await pipeline.sync(seller, family, now - timedelta(minutes=minutes), now)
    spent = await endpoint_calls(pipeline) - before
    return Counter({k: v for k, v in spent.items() if not any(n in k for n in NOT_EBAY)})


async def truth_records(
    pipeline: Pipeline, seller: Seller, truth: FamilyTruth, **dates: Any
) -> Records:
    body = await pipeline.truth(seller, truth.path, **dates)
    return {truth.key(r): r for r in truth.records(body.content)}


async def mirrored(pipeline: Pipeline, seller: Seller, truth: FamilyTruth) -> Records:
    table = truth.table
    async with pipeline.sessions() as session:
        rows = await session.scalars(select(table).where(table.account_id == seller.account_id))
        return {getattr(row, truth.key_column): row.payload for row in rows}


def phases_due(family: Family, *, all_due: bool) -> int:
    """Phases a run makes calls for: the window, and ``open`` when due (``recent`` is read by
    the window's own search)."""
    return 1 + int(all_due and "open" in PHASE_CADENCES.get(family, {}))


@pytest.mark.parametrize("family", list(SEARCHES), ids=str)
async def test_a_caught_up_run_costs_one_call_per_due_phase_and_still_sees_changes(
    pipeline: Pipeline, family: Family
) -> None:
    seller = pipeline.sellers[0]
    truth = TRUTHS[family]
    now = await pipeline.sandbox_now()
    start = now - timedelta(days=30)
    await pipeline.sync(seller, family, start, now)

    # Caught up, nothing changed (the clock is frozen), refresh phases not due.
    spent = await calls_of_run(pipeline, seller, family, minutes=10)
    assert sum(spent.values()) == spent[SEARCHES[family]], spent
    assert spent[SEARCHES[family]] <= phases_due(family, all_due=False), spent
    if family is Family.MESSAGES:
        assert spent[SEARCHES[family]] == 1, spent  # the ReturnSummary alone

    # A day on: messages are read, replied and filed, claims move on, closures come.
    await pipeline.advance_clock(86_400)
    later = await pipeline.sandbox_now()
    before = await mirrored(pipeline, seller, truth)
    spent = await calls_of_run(pipeline, seller, family, minutes=24 * 60 + 10)
    mirror = await mirrored(pipeline, seller, truth)
    if family is Family.MESSAGES:
        expected = await truth_records(pipeline, seller, truth, date_from=start, date_to=later)
        assert mirror == expected
        changed = [key for key, payload in before.items() if mirror[key] != payload]
        assert changed, "messages read, replied or filed since are picked up"
    else:
        everything = await truth_records(pipeline, seller, truth)
        assert mirror == {key: everything[key] for key in mirror}
        since_start = await truth_records(pipeline, seller, truth, date_from=start, date_to=later)
        assert since_start.keys() <= mirror.keys()
    # The due refresh phases ran: their re-read spans cost what their pages cost.
    assert spent[SEARCHES[family]] >= phases_due(family, all_due=True), spent

    # And caught up again right after: back to the cheap run.
    spent = await calls_of_run(pipeline, seller, family, minutes=10)
    assert sum(spent.values()) == spent[SEARCHES[family]] <= phases_due(family, all_due=False)


async def searches_of(
    pipeline: Pipeline,
    seller: Seller,
    family: Family,
    start: datetime,
    end: datetime,
    **options: Any,
) -> int:
    before = await endpoint_calls(pipeline)
    await pipeline.sync(seller, family, start, end, **options)
    return (await endpoint_calls(pipeline) - before)[SEARCHES[family]]


async def nowhere(page: PageBatch) -> None:
    """A writer that never commits (stalled, then the run fenced off): pages go nowhere."""


@pytest.mark.parametrize("family", [Family.MESSAGES, Family.CASES], ids=str)
async def test_marks_of_a_run_whose_pages_never_committed_spare_nothing(
    pipeline: Pipeline, family: Family
) -> None:
    # The writer-stall loss: a run read the pair's changes, left its marks, and its pages never
    # committed; the next window (starting later, as a pair's first windows do) must not trust
    # them, or what that run saw is never mirrored.
    seller = pipeline.sellers[0]
    truth = TRUTHS[family]
    now = await pipeline.sandbox_now()
    start = now - timedelta(days=30)
    await pipeline.sync(seller, family, start, now)
    committed = await pipeline.committed_run(seller, family)
    assert committed is not None
    await pipeline.advance_clock(86_400)
    later = await pipeline.sandbox_now()
    assert await searches_of(pipeline, seller, family, now, later, publish=nowhere) > 1
    assert await pipeline.committed_run(seller, family) == committed
    # The next window names the run that did commit: it reads everything again.
    again = now + timedelta(minutes=1)
    assert await searches_of(pipeline, seller, family, again, later) > 1
    mirror = await mirrored(pipeline, seller, truth)
    if family is Family.MESSAGES:
        assert mirror == await truth_records(
            pipeline, seller, truth, date_from=start, date_to=later
        )
    else:
        everything = await truth_records(pipeline, seller, truth)
        assert mirror == {key: everything[key] for key in mirror}
    # Once that run committed, a caught-up window is back to one call.
    caught_up = later - timedelta(minutes=10)
    assert await searches_of(pipeline, seller, family, caught_up, later) == 1


@pytest.mark.parametrize("family", [Family.MESSAGES, Family.CASES], ids=str)
async def test_a_window_trusts_only_the_run_the_scheduler_names(
    pipeline: Pipeline, family: Family
) -> None:
    seller = pipeline.sellers[0]
    now = await pipeline.sandbox_now()
    await pipeline.sync(seller, family, now - timedelta(days=30), now)
    await pipeline.advance_clock(86_400)
    later = await pipeline.sandbox_now()
    run_from = now - timedelta(minutes=10)
    # Messages moved and ``open`` is due: this run reads, and leaves its marks.
    assert await searches_of(pipeline, seller, family, run_from, later) > 1
    # A window naming no committed run (a manual run, a repair) trusts no mark.
    assert await searches_of(pipeline, seller, family, run_from, later, trusting=None) > 1
    # A window naming the run before (as if the last had not committed) trusts none of it.
    assert await searches_of(pipeline, seller, family, run_from, later, trusting=uuid.uuid4()) > 1
    # A window naming the last committed run: back to one call.
    caught_up = later - timedelta(minutes=10)
    assert await searches_of(pipeline, seller, family, caught_up, later) == 1
