"""The eBay API families ebaysync mirrors, and every fact about each: one :class:`FamilySpec`.

A family's declarative facts live here, in :data:`FAMILIES`; the registries older code reads
(``SNAPSHOT_FAMILIES``, ``PHASE_CADENCES``, ``common.windows.LOOKBACK_LIMITS``,
``common.ledger.FAMILY_APIS``, ``common.ebay.scopes.FAMILY_SCOPES``) are derived from it. What
only a service can hold stays there, keyed by family: the writer's mapping
(``writer.families``), the fetcher's source (``fetcher.sources``), the CLI's ground truth
(``ebaysync.truths``). ``tests/test_family_specs.py`` proves every spec has all of them and that
they agree. To add a family: docs/adr/0006-families.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from common.ebay import scope_names as scope
from common.ebay.quota import EbayApi


class Family(StrEnum):
    ORDERS = "orders"
    TRANSACTIONS = "transactions"
    FINANCES = "finances"
    OFFERS = "offers"
    MESSAGES = "messages"
    ACTIVE_INVENTORY = "active_inventory"
    PURCHASES = "purchases"
    CASES = "cases"
    INQUIRIES = "inquiries"
    RETURNS = "returns"
    PAYMENT_DISPUTES = "payment_disputes"


class Purpose(StrEnum):
    """What an account is connected for (chosen at connect, changeable by an admin)."""

    SELLER = "seller"
    BUYER = "buyer"
    BOTH = "both"


class Push(StrEnum):
    """What eBay's push notifications do for a family (docs/adr/0018-push-notifications.md)."""

    # No topic or event covers it: polling alone.
    NONE = "none"
    # A topic names its changes, but there is no call for just those ids: the targeted window
    # reads nothing and polling, the safety net, picks the change up.
    NOTICED = "noticed"
    # A notification's ids are re-read at once by a targeted window (fetcher.sources.targeted).
    TARGETED = "targeted"


@dataclass(frozen=True)
class FamilySpec:
    """Everything common knows about one family; see the module docstring for the rest."""

    family: Family
    # How operators read it (the admin UI, from ``GET /api/families``).
    label: str
    # The daily quota its listing calls count against (``common.ledger``).
    api: EbayApi
    # Whose side of eBay it is: SELLER or BUYER (an account's purpose picks the sides it syncs).
    side: Purpose
    # The mirror table, and the columns that name an entity in it after ``account_id``.
    table: str
    key: tuple[str, ...]
    # The OAuth scopes its calls need: any one suffices, the first is the one a connect asks for.
    scopes: tuple[str, ...]
    # The fetcher's phases of one window, in order (``Source.phases``).
    phases: tuple[str, ...]
    # How far back eBay lets a window reach (contracts §3, §7); None: a snapshot family, which
    # enumerates everything each run and has no time window.
    lookback: timedelta | None
    # How often a refresh phase runs; between, the fetcher skips it (no eBay call). A phase not
    # named runs every window. ``recent`` re-reads the span before the window in which entities
    # still change, ``open`` the entities still open whatever their age (fetcher.sources).
    cadences: Mapping[str, timedelta] = field(default_factory=dict)
    # Whether each changed summary is read in detail too (kept under :data:`DETAIL_KEY`).
    detail: bool = False
    push: Push = Push.NONE

    def __post_init__(self) -> None:
        if self.side not in (Purpose.SELLER, Purpose.BUYER):
            raise ValueError(f"{self.family}: a family is the seller's or the buyer's")
        if not set(self.cadences) <= set(self.phases[1:]):
            raise ValueError(f"{self.family}: only a refresh phase (not the first) has a cadence")
        if self.snapshot != (self.phases == ("snapshot",)):
            raise ValueError(f"{self.family}: a snapshot family has one phase, 'snapshot'")

    @property
    def snapshot(self) -> bool:
        return self.lookback is None


# A seller-operations team's defaults: a case's or payout's later change shows within the
# hour, an open case's within 30 minutes. Messages check every run with one ReturnSummary
# call and read headers only when it moved; their full re-read of the last days is daily.
_HOURLY = {"recent": timedelta(hours=1)}
_POST_ORDER = {"open": timedelta(minutes=30), "recent": timedelta(hours=1)}
_POST_ORDER_LOOKBACK = timedelta(days=540)
_FIVE_YEARS = timedelta(days=5 * 365)


def _post_order(
    family: Family,
    label: str,
    api: EbayApi,
    key: str,
    *,
    detail: bool = False,
    push: Push = Push.NONE,
) -> FamilySpec:
    """A Post-Order family: its search by creation date, then its open and recent entities."""
    return FamilySpec(
        family,
        label,
        api,
        Purpose.SELLER,
        table=f"ebay_{family.value}",
        key=(key,),
        scopes=(scope.API_SCOPE,),
        phases=("window", "open", "recent"),
        lookback=_POST_ORDER_LOOKBACK,
        cadences=_POST_ORDER,
        detail=detail,
        push=push,
    )


def _specs(*specs: FamilySpec) -> Mapping[Family, FamilySpec]:
    return {spec.family: spec for spec in specs}


FAMILIES: Mapping[Family, FamilySpec] = _specs(
    FamilySpec(
        Family.ORDERS,
        "Orders",
        EbayApi.FULFILLMENT,
        Purpose.SELLER,
        table="ebay_orders",
        key=("order_id",),
        scopes=(scope.FULFILLMENT_READONLY, scope.FULFILLMENT),
        phases=("window",),
        lookback=timedelta(days=730),
        push=Push.TARGETED,
    ),
    FamilySpec(
        Family.TRANSACTIONS,
        "Transactions",
        EbayApi.FINANCES,
        Purpose.SELLER,
        table="ebay_transactions",
        key=("transaction_id", "transaction_type"),
        scopes=(scope.FINANCES,),
        phases=("window", "recent"),
        lookback=_FIVE_YEARS,
        cadences=_HOURLY,
    ),
    FamilySpec(
        Family.FINANCES,
        "Payouts",
        EbayApi.FINANCES,
        Purpose.SELLER,
        table="ebay_payouts",
        key=("payout_id",),
        scopes=(scope.FINANCES,),
        phases=("window", "recent"),
        lookback=_FIVE_YEARS,
        cadences=_HOURLY,
    ),
    FamilySpec(
        Family.OFFERS,
        "Offers",
        EbayApi.INVENTORY,
        Purpose.SELLER,
        table="ebay_offers",
        key=("offer_id",),
        scopes=(scope.INVENTORY_READONLY, scope.INVENTORY),
        phases=("snapshot",),
        lookback=None,
    ),
    # Trading: messages are kept a year; WonList reaches back at most 60 days (DurationInDays).
    # Trading and Post-Order take any user token with the base scope.
    FamilySpec(
        Family.MESSAGES,
        "Messages",
        EbayApi.TRADING,
        Purpose.SELLER,
        table="ebay_messages",
        key=("message_id",),
        scopes=(scope.API_SCOPE,),
        phases=("window", "recent"),
        lookback=timedelta(days=365),
        cadences={"recent": timedelta(days=1)},
        push=Push.TARGETED,
    ),
    FamilySpec(
        Family.ACTIVE_INVENTORY,
        "Active listings",
        EbayApi.TRADING,
        Purpose.SELLER,
        table="ebay_active_listings",
        key=("item_id",),
        scopes=(scope.API_SCOPE,),
        phases=("snapshot",),
        lookback=None,
        push=Push.TARGETED,
    ),
    FamilySpec(
        Family.PURCHASES,
        "Purchases",
        EbayApi.TRADING,
        Purpose.BUYER,
        table="ebay_purchases",
        key=("order_line_item_id",),
        scopes=(scope.API_SCOPE,),
        phases=("window",),
        lookback=timedelta(days=60),
    ),
    _post_order(Family.CASES, "Cases", EbayApi.POSTORDER_CASES, "case_id"),
    # Inquiries and returns whose summary changed are read in detail too.
    _post_order(
        Family.INQUIRIES,
        "Inquiries",
        EbayApi.POSTORDER_INQUIRIES,
        "inquiry_id",
        detail=True,
        push=Push.TARGETED,
    ),
    _post_order(
        Family.RETURNS,
        "Returns",
        EbayApi.POSTORDER_RETURNS,
        "return_id",
        detail=True,
        push=Push.TARGETED,
    ),
    FamilySpec(
        Family.PAYMENT_DISPUTES,
        "Payment disputes",
        EbayApi.PAYMENT_DISPUTE,
        Purpose.SELLER,
        table="ebay_payment_disputes",
        key=("payment_dispute_id",),
        scopes=(scope.PAYMENT_DISPUTE,),
        phases=("window", "open"),
        lookback=_POST_ORDER_LOOKBACK,
        cadences={"open": timedelta(minutes=30)},
        detail=True,
    ),
)


def spec(family: Family | str) -> FamilySpec:
    return FAMILIES[Family(family)]


# --- derived: the registries callers read ----------------------------------------------------

# Snapshot families enumerate everything each run and have no time window.
SNAPSHOT_FAMILIES: frozenset[Family] = frozenset(f for f, s in FAMILIES.items() if s.snapshot)

# A buyer's side of eBay is what it bought; everything else is the seller's.
BUYER_FAMILIES: frozenset[Family] = frozenset(
    f for f, s in FAMILIES.items() if s.side is Purpose.BUYER
)

# The families each purpose syncs: the scheduler plans, and the admin API shows, only these.
PURPOSE_FAMILIES: dict[Purpose, frozenset[Family]] = {
    Purpose.SELLER: frozenset(Family) - BUYER_FAMILIES,
    Purpose.BUYER: BUYER_FAMILIES,
    Purpose.BOTH: frozenset(Family),
}


def families_of(purpose: str) -> frozenset[Family]:
    return PURPOSE_FAMILIES[Purpose(purpose)]


# The key a fetched record carries its detail call's answer under (inquiries, returns, payment
# disputes: fetcher.sources.details); the writer keeps it apart from the summary.
DETAIL_KEY = "_detail"
DETAIL_FAMILIES: frozenset[Family] = frozenset(f for f, s in FAMILIES.items() if s.detail)
# The key a targeted window's record of a snapshot family carries (true) when eBay reports the
# entity ended (a listing's GetItem ``ListingStatus``): the writer ends its row, as a complete
# snapshot would, instead of storing it as live (docs/adr/0018-push-notifications.md).
ENDED_KEY = "_ended"

# How often each refresh phase runs (:attr:`FamilySpec.cadences`), for the families that
# have a phase running less often than every window.
PHASE_CADENCES: Mapping[Family, Mapping[str, timedelta]] = {
    f: s.cadences for f, s in FAMILIES.items() if s.cadences
}
