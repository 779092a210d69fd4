"""Targeted windows in the fetcher's sources: just the ids, one page, no time range (pure)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from common.families import Family
from common.messages import SyncWindow, Trigger
from fetcher.sources.base import PageRequest, SourcePage
from fetcher.sources.targeted import WithTargets, chunks
from fetcher.tokens import AccountToken

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ACCOUNT = AccountToken(SecretStr("t"), "EBAY_US", 0)


@dataclass
class Polling:
    """A two-phase source that counts its (polling) calls."""

    family: Family = Family.MESSAGES
    phases: tuple[str, ...] = ("window", "recent")
    calls: list[str] = field(default_factory=list)

    async def page(self, request: PageRequest) -> SourcePage:
        self.calls.append(request.phase)
        return SourcePage.listed([{"polled": True}], total=1, has_next=False)


def window(targets: list[str] | None) -> SyncWindow:
    return SyncWindow(
        run_id=uuid.uuid4(),
        account_id=1,
        family=Family.MESSAGES,
        window_from=None if targets is not None else NOW,
        window_to=NOW,
        trigger=Trigger.NOTIFICATION if targets is not None else Trigger.SCHEDULE,
        issued_at=NOW,
        targets=targets,
    )


async def test_a_targeted_window_reads_its_ids_in_one_page_and_no_other_phase() -> None:
    asked: list[list[str]] = []

    async def call(account: AccountToken, ids: list[str]) -> list[dict[str, Any]]:
        asked.append(ids)
        return [{"id": i} for i in ids]

    inner = Polling()
    source = WithTargets(inner, call)
    first = await source.page(PageRequest(window(["a", "b"]), ACCOUNT, "window", 0))
    assert first.records == [{"id": "a"}, {"id": "b"}]
    assert first.shape.has_next is False and first.shape.total == 2
    later = await source.page(PageRequest(window(["a", "b"]), ACCOUNT, "recent", 0))
    assert later.records == [] and asked == [["a", "b"]]
    assert inner.calls == [], "no polling call for a targeted window"


async def test_a_family_without_a_targeted_call_completes_empty_and_polls_as_before() -> None:
    inner = Polling()
    source = WithTargets(inner, None)
    page = await source.page(PageRequest(window(["x"]), ACCOUNT, "window", 0))
    assert page.records == [] and page.shape.has_next is False and inner.calls == []
    polled = await source.page(PageRequest(window(None), ACCOUNT, "window", 0))
    assert polled.records == [{"polled": True}] and inner.calls == ["window"]


def test_ids_go_in_batches_of_the_calls_limit() -> None:
    ids = [str(i) for i in range(120)]
    assert [len(c) for c in chunks(ids, 50)] == [50, 50, 20]
    assert [i for c in chunks(ids, 50) for i in c] == ids
