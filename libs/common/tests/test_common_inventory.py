"""Following the Inventory collections' ``next`` links, and getOffers' "no offer": pure."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from common.ebay.errors import EbayPayloadError, EbayRequestError
from common.ebay.inventory import InventoryClient, next_offset

BASE = "https://api.ebay.com/sell/inventory/v1/inventory_item"


def test_the_last_page_has_no_next_offset() -> None:
    assert next_offset({"total": 3, "size": 1}, 0, 3) is None


def test_the_next_offset_is_where_the_link_continues() -> None:
    assert next_offset({"next": f"{BASE}?limit=200&offset=200"}, 0, 200) == 200
    # An oversized page: next continues after everything it returned, not after ``limit``.
    assert next_offset({"next": f"{BASE}?limit=25&offset=1025"}, 25, 1000) == 1025


def test_a_link_without_an_offset_continues_after_the_records_returned() -> None:
    assert next_offset({"next": f"{BASE}?limit=25"}, 50, 25) == 75


@pytest.mark.parametrize(
    "link",
    [f"{BASE}?limit=25&offset=50", f"{BASE}?limit=25&offset=10", f"{BASE}?offset=x", 17],
)
def test_a_next_link_that_does_not_move_forward_is_refused(link: object) -> None:
    with pytest.raises(EbayPayloadError):
        next_offset({"next": link}, 50, 25)


@pytest.mark.parametrize("status", [404, 400])
async def test_no_offer_is_an_empty_list_as_404_or_400(status: int) -> None:
    """25713 is "no offer" whichever status carries it (docs/adr/0010)."""
    body = {"errors": [{"errorId": 25713, "message": "This Offer is not available : ."}]}
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json=body))
    client = InventoryClient(httpx.AsyncClient(transport=transport), "https://api")
    assert await client.get_offers(SecretStr("t"), sku="DRAFT-1") == []


@pytest.mark.parametrize("status", [404, 400])
async def test_another_error_id_stays_a_request_error(status: int) -> None:
    body = {"errors": [{"errorId": 25709, "message": "Invalid value for sku."}]}
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json=body))
    client = InventoryClient(httpx.AsyncClient(transport=transport), "https://api")
    with pytest.raises(EbayRequestError):
        await client.get_offers(SecretStr("t"), sku="DRAFT-1")
