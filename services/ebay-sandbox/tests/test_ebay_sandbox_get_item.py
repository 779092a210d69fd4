"""Trading GetItem: one of the caller's listings by ItemID, live or ended, as the ActiveList
has it plus its ListingStatus; an id that is not the caller's answers error 17."""

import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from typing import Any

Login = Any  # conftest.Login
TradingFn = Any  # conftest.TradingFn
NS = "{urn:ebay:apis:eBLBaseComponents}"
ACTIVE = (
    "<ActiveList><Sort>ItemID</Sort><Pagination><EntriesPerPage>200</EntriesPerPage>"
    "<PageNumber>1</PageNumber></Pagination></ActiveList>"
)


def fields(item: ET.Element) -> dict[str, str | None]:
    """Every leaf of an Item by its path (TimeLeft and ListingStatus aside)."""
    out: dict[str, str | None] = {}

    def walk(node: ET.Element, path: str) -> None:
        children = list(node)
        if not children:
            out[path] = node.text
        for child in children:
            walk(child, f"{path}/{child.tag.removeprefix(NS)}".lstrip("/"))

    walk(item, "")
    return {k: v for k, v in out.items() if k not in ("TimeLeft", "SellingStatus/ListingStatus")}


async def test_get_item_answers_the_active_list_item_with_its_status(
    login: Callable[..., Awaitable[Login]], trading: TradingFn
) -> None:
    tokens = await login()
    listed = await trading("GetMyeBaySelling", ACTIVE, token=tokens.access_token)
    items = listed.findall("ActiveList/ItemArray/Item")
    assert items
    for item in items[:5]:
        item_id = item.findtext(f"{NS}ItemID")
        reply = await trading("GetItem", f"<ItemID>{item_id}</ItemID>", token=tokens.access_token)
        assert reply.ack == "Success", reply.body
        got = reply.find("Item")
        assert got is not None
        assert reply.text("Item/SellingStatus/ListingStatus") == "Active"
        assert fields(got) == fields(item)


async def test_an_ended_listing_is_completed_and_an_unknown_one_is_error_17(
    login: Callable[..., Awaitable[Login]],
    trading: TradingFn,
    advance: Callable[[float], Awaitable[str]],
) -> None:
    tokens = await login()
    listed = await trading("GetMyeBaySelling", ACTIVE, token=tokens.access_token)
    auctions = [
        i.findtext(f"{NS}ItemID")
        for i in listed.findall("ActiveList/ItemArray/Item")
        if i.findtext(f"{NS}ListingType") == "Chinese"
    ]
    assert auctions, "the seller runs auctions"
    await advance(8 * 86400)  # every 7-day auction listed then has ended
    tokens = await login()  # the old token expired meanwhile
    reply = await trading("GetItem", f"<ItemID>{auctions[0]}</ItemID>", token=tokens.access_token)
    assert reply.ack == "Success", reply.body
    assert reply.text("Item/SellingStatus/ListingStatus") == "Completed"

    unknown = await trading("GetItem", "<ItemID>123</ItemID>", token=tokens.access_token)
    assert unknown.ack == "Failure" and unknown.error_codes == ["17"]
    other = await login("sandbox_seller_2")
    theirs = await trading("GetItem", f"<ItemID>{auctions[0]}</ItemID>", token=other.access_token)
    assert theirs.ack == "Failure" and theirs.error_codes == ["17"]
    missing = await trading("GetItem", "", token=tokens.access_token)
    assert missing.ack == "Failure" and missing.error_codes == ["37"]
