"""Finances: getTransactions (transactionDate) and getPayouts (payoutDate), both signed.

Their filter dates never move, but their statuses do (a sale's funds become available, then
paid out; a payout is initiated, then succeeds), so after the window each run re-reads the
``recent`` span in which such changes still happen (:func:`refresh_range`). That span ends
where the window starts, so when ``recent`` is due (``FamilySpec.cadences``) the
window's call reads both (:func:`with_recent`) and the ``recent`` phase itself calls nothing;
between, a run costs one call per page of its window.

Every call carries the seller's marketplace and a digital signature: EU/UK-domiciled sellers
must sign every Finances call and eBay ignores the signature of anyone else, so signing all
calls needs no guess at a seller's domicile (which is not its marketplace).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from common.ebay.finances import FinancesClient, payout_date_filter, transaction_date_filter
from common.families import Family
from common.windows import LOOKBACK_LIMITS
from fetcher.signing import SigningKeyCache
from fetcher.sources.base import PageRequest, SourcePage, refresh_range, with_recent
from fetcher.sources.details import MemoryDigests
from fetcher.sources.marks import Marks, PhaseClock

FINANCES_PHASES = ("window", "recent")
# How long a transaction's status may still change after its date: until its order ships and
# the funds are paid out (days at eBay and in the sandbox).
TRANSACTIONS_REFRESH = timedelta(days=30)
# How long a payout may stay initiated (or retry after a failure) before it succeeds.
PAYOUTS_REFRESH = timedelta(days=14)


def phase_range(
    request: PageRequest, family: Family, horizon: timedelta, *, with_refresh: bool = False
) -> tuple[datetime, datetime] | None:
    """The dates one phase reads: the window (``with_refresh``: and the recent span before
    it), or the recent span alone (None: nothing)."""
    window = request.window
    assert window.window_from is not None, f"{family} is fetched in windows"
    if request.phase == "window":
        if with_refresh:
            return with_recent(window, horizon, LOOKBACK_LIMITS[family])
        return window.window_from, window.window_to
    return refresh_range(window, horizon, LOOKBACK_LIMITS[family])


# Per family: the listing call and its date filter.
_LISTINGS = {
    Family.TRANSACTIONS: (FinancesClient.get_transactions, transaction_date_filter),
    Family.FINANCES: (FinancesClient.get_payouts, payout_date_filter),
}


@dataclass(frozen=True)
class FinancesSource:
    """getTransactions (``Family.TRANSACTIONS``) or getPayouts (``Family.FINANCES``)."""

    client: FinancesClient
    signing_keys: SigningKeyCache
    page_size: int
    family: Family
    refresh_horizon: timedelta
    phases: tuple[str, ...] = FINANCES_PHASES
    # When ``recent`` last ran; the default (no marks kept) makes it due every window.
    clock: PhaseClock = field(
        default_factory=lambda: PhaseClock(Marks(MemoryDigests()), {}), compare=False
    )

    async def page(self, request: PageRequest) -> SourcePage:
        if request.phase == "recent":
            return SourcePage.empty()  # read with the window when due
        refresh = await self.clock.is_due(self.family, request.window, "recent")
        dates = phase_range(request, self.family, self.refresh_horizon, with_refresh=refresh)
        if dates is None:
            return SourcePage.empty()
        list_call, date_filter = _LISTINGS[self.family]
        page = await list_call(
            self.client,
            request.account.token,
            marketplace_id=request.account.marketplace_id,
            signing_key=await self.signing_keys.get(),
            date_filter=date_filter(*dates),
            offset=request.offset,
            limit=self.page_size,
        )
        listed = SourcePage.listed(page.records, total=page.total, has_next=page.has_next)
        if refresh and not page.has_next:
            ran = self.clock.ran(self.family, request.window, ["recent"])
            return replace(listed, published=ran)
        return listed
