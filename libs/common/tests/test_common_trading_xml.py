"""The Trading XML converter on the contract samples, streaming in chunks, and bounded memory."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.ebay.trading import ACTIVE_ITEM_PATH, MESSAGE_PATH, WON_TRANSACTION_PATH
from common.ebay.xml import (
    MalformedXmlError,
    RecordStream,
    element_value,
    parse_document,
    path_value,
    request_xml,
)

CONTRACTS = Path("/work/shared/ebay-contracts/trading")
EXAMPLES = CONTRACTS / "examples"


def sample(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()


def test_an_active_list_item_becomes_a_plain_dict() -> None:
    items, envelope = parse_document(
        sample("GetMyeBaySelling_ActiveList_page1.response.xml"), ACTIVE_ITEM_PATH
    )
    assert [item["ItemID"] for item in items] == ["110000000001", "110000000002"]
    assert items[0] == {
        "BuyItNowPrice": {"@currencyID": "USD", "#text": "0.0"},
        "ItemID": "110000000001",
        "ListingDetails": {
            "StartTime": "2026-02-20T18:41:04.000Z",
            "ViewItemURL": "https://www.ebay.com/itm/110000000001",
            "ViewItemURLForNaturalSearch": "https://www.ebay.com/itm/Example-Widget/110000000001",
        },
        "ListingDuration": "GTC",
        "ListingType": "FixedPriceItem",
        "Quantity": "5",
        "SellingStatus": {
            "CurrentPrice": {"@currencyID": "USD", "#text": "19.99"},
            "QuantitySold": "2",
        },
        "ShippingDetails": {"ShippingType": "Flat"},
        "TimeLeft": "P27DT3H12M5S",
        "Title": "Example Widget",
        "WatchCount": "3",
        "QuantityAvailable": "3",
        "SKU": "WIDGET-001",
        "PictureDetails": {"GalleryURL": "https://i.ebayimg.com/images/g/example/s-l140.jpg"},
    }
    # The envelope keeps everything but the records.
    assert envelope["Ack"] == "Success"
    assert path_value(envelope, "ActiveList", "PaginationResult") == {
        "TotalNumberOfPages": "3",
        "TotalNumberOfEntries": "5",
    }
    assert not path_value(envelope, "ActiveList", "ItemArray").strip()


def test_a_message_header_keeps_every_field_as_text() -> None:
    messages, _ = parse_document(sample("GetMyMessages_ReturnHeaders.response.xml"), MESSAGE_PATH)
    assert messages == [
        {
            "Sender": "example_buyer",
            "RecipientUserID": "example_seller",
            "SendToName": "example_seller",
            "Subject": "Question about item 110000000001",
            "MessageID": "200000000001",
            "ExternalMessageID": "3000000000001",
            "Flagged": "false",
            "Read": "false",
            "ReceiveDate": "2026-03-01T08:00:00.000Z",
            "ExpirationDate": "2027-03-01T08:00:00.000Z",
            "ItemID": "110000000001",
            "ResponseDetails": {
                "ResponseEnabled": "true",
                # &amp; in the XML is a plain & in the value.
                "ResponseURL": "https://mesg.ebay.com/ws/eBayISAPI.dll?ViewMyMessageDetails"
                "&messageid=200000000001",
            },
            "Folder": {"FolderID": "0"},
            "Replied": "false",
            "ItemEndTime": "2026-03-22T18:41:04.000Z",
            "ItemTitle": "Example Widget",
            "MessageType": "AskSellerQuestion",
        }
    ]


def test_a_won_list_order_transaction_nests_its_transaction() -> None:
    purchases, envelope = parse_document(
        sample("GetMyeBayBuying_WonList.response.xml"), WON_TRANSACTION_PATH
    )
    assert purchases == [
        {
            "Transaction": {
                "CreatedDate": "2026-02-25T12:00:00.000Z",
                "Item": {
                    "ItemID": "120000000009",
                    "Seller": {"UserID": "some_other_seller"},
                    "Title": "Supplies for resale",
                },
                "QuantityPurchased": "1",
                "TransactionID": "0",
                "TransactionPrice": {"@currencyID": "USD", "#text": "8.75"},
                "OrderLineItemID": "120000000009-0",
                "TotalPrice": {"@currencyID": "USD", "#text": "8.75"},
            }
        }
    ]
    assert path_value(envelope, "WonList", "PaginationResult", "TotalNumberOfEntries") == "1"


def test_repeated_tags_become_lists_and_attributes_sit_beside_children() -> None:
    _, envelope = parse_document(
        CONTRACTS.joinpath("error_10012_invalid_header.response.xml").read_bytes(), ("Nothing",)
    )
    assert envelope["Errors"]["ErrorParameters"] == [
        {"@ParamID": "0", "Value": "X-EBAY-API-SITEID"},
        {"@ParamID": "1", "Value": "US"},
    ]
    _, two = parse_document(sample("error_931_932_token.response.xml"), ("Nothing",))
    assert [e["ErrorCode"] for e in two["Errors"]] == ["931", "932"]


def test_an_empty_element_is_an_empty_string_and_text_is_verbatim() -> None:
    _, envelope = parse_document(
        b'<R xmlns="urn:ebay:apis:eBLBaseComponents"><A/><B> x </B><C k="v"/></R>', ("None",)
    )
    assert envelope == {"A": "", "B": " x ", "C": {"@k": "v", "#text": ""}}


def test_any_chunking_gives_the_same_records() -> None:
    document = sample("GetMyeBaySelling_ActiveList_page1.response.xml")
    whole, whole_envelope = parse_document(document, ACTIVE_ITEM_PATH)
    for size in (1, 7, 64, 1000):
        stream = RecordStream(ACTIVE_ITEM_PATH)
        records = []
        for start in range(0, len(document), size):
            records += stream.feed(document[start : start + size])
        rest, envelope = stream.close()
        assert records + rest == whole
        assert envelope == whole_envelope


def test_records_come_out_as_soon_as_they_close() -> None:
    document = sample("GetMyeBaySelling_ActiveList_page1.response.xml")
    cut = document.index(b"</Item>") + len(b"</Item>")
    stream = RecordStream(ACTIVE_ITEM_PATH)
    first = stream.feed(document[:cut])
    assert [r["ItemID"] for r in first] == ["110000000001"]
    assert [r["ItemID"] for r in stream.feed(document[cut:])] == ["110000000002"]


@pytest.mark.parametrize(
    "document",
    [
        b"",
        b"<GetMyMessagesResponse><Messages><Message><MessageID>1</MessageID>",
        b"not xml at all",
        b"<a></b>",
    ],
)
def test_broken_documents_are_refused(document: bytes) -> None:
    with pytest.raises(MalformedXmlError):
        parse_document(document, MESSAGE_PATH)


def test_a_request_is_the_call_root_with_its_fields_in_order() -> None:
    body = request_xml(
        "GetMyMessages",
        {
            "DetailLevel": "ReturnMessages",
            "MessageIDs": {"MessageID": ["1", "2"]},
            "Pagination": {"EntriesPerPage": 200, "PageNumber": 1},
            "Subject": "<&>",
        },
    )
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<GetMyMessagesRequest ')
    _, parsed = parse_document(body, ("Nothing",))
    assert parsed == {
        "DetailLevel": "ReturnMessages",
        "MessageIDs": {"MessageID": ["1", "2"]},
        "Pagination": {"EntriesPerPage": "200", "PageNumber": "1"},
        "Subject": "<&>",
    }


def test_element_value_drops_namespaces() -> None:
    from xml.etree import ElementTree

    element = ElementTree.fromstring(
        '<a xmlns="urn:ebay:apis:eBLBaseComponents"><b>1</b><b>2</b><c><d>3</d></c></a>'
    )
    assert element_value(element) == {"b": ["1", "2"], "c": {"d": "3"}}


ITEM = (
    "<Item><ItemID>{n}</ItemID><ListingDetails><StartTime>2026-02-20T18:41:04.000Z</StartTime>"
    "<ViewItemURL>https://www.ebay.com/itm/{n}</ViewItemURL></ListingDetails>"
    "<ListingType>FixedPriceItem</ListingType><Quantity>5</Quantity><SellingStatus>"
    '<CurrentPrice currencyID="USD">19.99</CurrentPrice><QuantitySold>2</QuantitySold>'
    "</SellingStatus><Title>{title}</Title><SKU>SKU-{n}</SKU></Item>"
)


def big_active_list(items: int, chunk_items: int = 20) -> Iterator[bytes]:
    """A GetMyeBaySelling response with ``items`` items, produced (and fed) chunk by chunk."""
    yield (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<GetMyeBaySellingResponse xmlns="urn:ebay:apis:eBLBaseComponents">'
        b"<Ack>Success</Ack><ActiveList><ItemArray>"
    )
    # Long texts (think message bodies) make the megabytes without millions of elements.
    title = "A fairly long listing title, as sellers write them " * 40
    for first in range(0, items, chunk_items):
        last = min(first + chunk_items, items)
        yield "".join(ITEM.format(n=n, title=title) for n in range(first, last)).encode()
    yield (
        b"</ItemArray><PaginationResult><TotalNumberOfPages>1</TotalNumberOfPages>"
        b"<TotalNumberOfEntries>%d</TotalNumberOfEntries></PaginationResult></ActiveList>"
        b"</GetMyeBaySellingResponse>" % items
    )


def test_memory_stays_bounded_by_a_record_not_the_document() -> None:
    items = 5_000
    stream = RecordStream(ACTIVE_ITEM_PATH)
    seen = 0
    last_id = ""
    document_bytes = 0
    tracemalloc.start()
    try:
        for chunk in big_active_list(items):
            document_bytes += len(chunk)
            for record in stream.feed(chunk):  # taken and dropped, as a consumer would
                seen += 1
                last_id = record["ItemID"]
        rest, envelope = stream.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == items and not rest and last_id == str(items - 1)
    assert path_value(envelope, "ActiveList", "PaginationResult", "TotalNumberOfEntries") == str(
        items
    )
    assert document_bytes > 10_000_000
    # The document is > 10 MB; parsing it held under 1 MB at any moment.
    assert peak < 1_000_000, f"peak {peak} bytes for a {document_bytes}-byte document"
