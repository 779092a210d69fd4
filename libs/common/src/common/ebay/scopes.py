"""The OAuth scopes ebaysync asks sellers to consent to: read access to what it mirrors."""

from __future__ import annotations

from dataclasses import dataclass

from common.families import Family, Purpose
from common.push import PUSH_SCOPES

_BASE = "https://api.ebay.com/oauth/api_scope"

SCOPES: tuple[str, ...] = (
    _BASE,
    f"{_BASE}/sell.fulfillment.readonly",
    f"{_BASE}/sell.payment.dispute",
    f"{_BASE}/sell.finances",
    f"{_BASE}/sell.inventory.readonly",
    f"{_BASE}/commerce.identity.readonly",
)

# As the consent URL and the refresh grant carry them: space-separated.
SCOPE_STRING = " ".join(SCOPES)

# The scope each family's calls need (any one of a tuple suffices; the first is the one asked
# for above). Trading and Post-Order take any user token with the base scope.
FAMILY_SCOPES: dict[Family, tuple[str, ...]] = {
    Family.ORDERS: (f"{_BASE}/sell.fulfillment.readonly", f"{_BASE}/sell.fulfillment"),
    Family.TRANSACTIONS: (f"{_BASE}/sell.finances",),
    Family.FINANCES: (f"{_BASE}/sell.finances",),
    Family.OFFERS: (f"{_BASE}/sell.inventory.readonly", f"{_BASE}/sell.inventory"),
    Family.MESSAGES: (_BASE,),
    Family.ACTIVE_INVENTORY: (_BASE,),
    Family.PURCHASES: (_BASE,),
    Family.CASES: (_BASE,),
    Family.INQUIRIES: (_BASE,),
    Family.RETURNS: (_BASE,),
    Family.PAYMENT_DISPUTES: (f"{_BASE}/sell.payment.dispute",),
}
# The health check's Identity getUser.
HEALTH_CHECK_SCOPES: tuple[str, ...] = (f"{_BASE}/commerce.identity.readonly",)


@dataclass(frozen=True)
class ScopeNeed:
    """One user of the token (a family or the health check), what it needs, and whether the
    granted scopes cover it."""

    needed_by: str
    scopes: tuple[str, ...]
    granted: bool


def scope_needs(granted: str) -> list[ScopeNeed]:
    """For each family and the health check: is one of its scopes among ``granted`` (a
    space-separated scope string as eBay sends it)?"""
    have = set(granted.split())
    uses: list[tuple[str, tuple[str, ...]]] = [(f.value, s) for f, s in FAMILY_SCOPES.items()]
    uses.append(("health_check", HEALTH_CHECK_SCOPES))
    return [ScopeNeed(name, scopes, any(s in have for s in scopes)) for name, scopes in uses]


# A buyer-only account needs no sell.* scope: purchases (Trading) take the base scope, and
# connect reads the user through Identity.
BUYER_SCOPES: tuple[str, ...] = (_BASE, f"{_BASE}/commerce.identity.readonly")


def scopes_for(purpose: Purpose, *, push: bool = False) -> str:
    """The scopes a connect for this purpose asks for (seller and both: all of them); with
    ``push``, also those the push topics need (``common.push.PUSH_SCOPES``)."""
    if purpose is Purpose.BUYER:
        return " ".join(BUYER_SCOPES)
    if not push:
        return SCOPE_STRING
    return " ".join(dict.fromkeys((*SCOPES, *PUSH_SCOPES)))
