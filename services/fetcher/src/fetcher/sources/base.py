"""What a family's source is: how one page of one eBay listing call is fetched.

The fetcher's loop (checkpoints, splitting, publishing, the 401 retry) is the same for every
family; a source only knows its API: which call, which filter, how it pages. Sources are thin
over the clients in ``common.ebay`` and hold no state between pages: everything they need to
continue is in the :class:`PageRequest`, so a redelivered window resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from common.families import Family
from common.messages import SyncWindow
from fetcher.domain import PageShape
from fetcher.tokens import AccountToken


@dataclass(frozen=True)
class PageRequest:
    window: SyncWindow
    account: AccountToken
    # The source's phase (one of its ``phases``) and the offset within that phase's result set.
    phase: str
    offset: int


@dataclass(frozen=True)
class SourcePage:
    records: list[dict[str, Any]]
    shape: PageShape
    # Called once the page is published (e.g. to remember what it carried); None: nothing.
    published: Callable[[], Awaitable[None]] | None = None

    @classmethod
    def listed(
        cls, records: list[dict[str, Any]], *, total: int | None, has_next: bool
    ) -> SourcePage:
        """A page of an offset-paged listing: every record returned is one entry consumed."""
        return cls(records, PageShape(consumed=len(records), total=total, has_next=has_next))

    @classmethod
    def empty(cls) -> SourcePage:
        """A phase with nothing to read (e.g. no span left to re-read)."""
        return cls([], PageShape(consumed=0, total=0, has_next=False))


class Source(Protocol):
    """One family's listing calls. Raise ``common.ebay.errors`` exceptions, nothing else."""

    @property
    def family(self) -> Family: ...

    # The listing passes each window makes, in order: e.g. ("window",) or ("window", "open").
    @property
    def phases(self) -> tuple[str, ...]: ...

    async def page(self, request: PageRequest) -> SourcePage: ...


def refresh_range(
    window: SyncWindow, horizon: timedelta, lookback: timedelta
) -> tuple[datetime, datetime] | None:
    """The span a ``recent`` phase re-reads: ``horizon`` before the window up to its start.

    Families filtered on a date that never moves (creation, transaction, payout date) miss
    later changes to older entities through their window; re-reading the span in which their
    entities still change catches them. Never further back than the API's ``lookback`` from
    the run's now; None when nothing is left to re-read.
    """
    assert window.window_from is not None, "only windows have a refresh range"
    start = max(window.window_to - horizon, window.issued_at - lookback)
    end = window.window_from
    return (start, end) if start < end else None


def with_recent(
    window: SyncWindow, horizon: timedelta, lookback: timedelta
) -> tuple[datetime, datetime]:
    """The window and the span its ``recent`` phase would re-read, as one span.

    The refresh range ends where the window starts, so one search from the refresh range's
    start to the window's end serves both phases with one call instead of two.
    """
    assert window.window_from is not None, "only windows have a refresh range"
    recent = refresh_range(window, horizon, lookback)
    start = window.window_from if recent is None else min(recent[0], window.window_from)
    return start, window.window_to
