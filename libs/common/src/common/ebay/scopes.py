"""The OAuth scopes ebaysync asks sellers to consent to: read access to what it mirrors."""

from __future__ import annotations

from common.families import Purpose

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

# A buyer-only account needs no sell.* scope: purchases (Trading) take the base scope, and
# connect reads the user through Identity.
BUYER_SCOPES: tuple[str, ...] = (_BASE, f"{_BASE}/commerce.identity.readonly")


def scopes_for(purpose: Purpose) -> str:
    """The scopes a connect for this purpose asks for (seller and both: all of them)."""
    return " ".join(BUYER_SCOPES) if purpose is Purpose.BUYER else SCOPE_STRING
