"""The OAuth scopes of eBay's APIs that ebaysync names, as constants.

No dependencies, so the families (``common.families``), the push topics (``common.push``) and
the consent (``common.ebay.scopes``) all name a scope from here.
"""

from __future__ import annotations

# The base scope: Trading, Post-Order and the client-credentials grant take it alone.
API_SCOPE = "https://api.ebay.com/oauth/api_scope"
FULFILLMENT_READONLY = f"{API_SCOPE}/sell.fulfillment.readonly"
FULFILLMENT = f"{API_SCOPE}/sell.fulfillment"
PAYMENT_DISPUTE = f"{API_SCOPE}/sell.payment.dispute"
FINANCES = f"{API_SCOPE}/sell.finances"
INVENTORY_READONLY = f"{API_SCOPE}/sell.inventory.readonly"
INVENTORY = f"{API_SCOPE}/sell.inventory"
IDENTITY_READONLY = f"{API_SCOPE}/commerce.identity.readonly"
