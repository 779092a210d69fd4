"""The OAuth scopes ebaysync asks sellers to consent to: read access to what it mirrors."""

from __future__ import annotations

from dataclasses import dataclass

from common.ebay import scope_names as scope
from common.families import FAMILIES, Family, Purpose
from common.push import PUSH_SCOPES

SCOPES: tuple[str, ...] = (
    scope.API_SCOPE,
    scope.FULFILLMENT_READONLY,
    scope.PAYMENT_DISPUTE,
    scope.FINANCES,
    scope.INVENTORY_READONLY,
    scope.IDENTITY_READONLY,
)

# As the consent URL and the refresh grant carry them: space-separated.
SCOPE_STRING = " ".join(SCOPES)

# The scope each family's calls need (``FamilySpec.scopes``: any one suffices, the first is
# the one asked for above).
FAMILY_SCOPES: dict[Family, tuple[str, ...]] = {f: s.scopes for f, s in FAMILIES.items()}
# The health check's Identity getUser.
HEALTH_CHECK_SCOPES: tuple[str, ...] = (scope.IDENTITY_READONLY,)


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
BUYER_SCOPES: tuple[str, ...] = (scope.API_SCOPE, scope.IDENTITY_READONLY)


def scopes_for(purpose: Purpose, *, push: bool = False) -> str:
    """The scopes a connect for this purpose asks for (seller and both: all of them); with
    ``push``, also those the push topics need (``common.push.PUSH_SCOPES``)."""
    if purpose is Purpose.BUYER:
        return " ".join(BUYER_SCOPES)
    if not push:
        return SCOPE_STRING
    return " ".join(dict.fromkeys((*SCOPES, *PUSH_SCOPES)))
