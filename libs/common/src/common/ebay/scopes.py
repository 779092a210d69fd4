"""The OAuth scopes ebaysync asks sellers to consent to: read access to what it mirrors."""

from __future__ import annotations

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
