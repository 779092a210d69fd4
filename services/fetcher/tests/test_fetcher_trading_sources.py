"""Pure paging decisions of the Trading sources (page numbers, skipping, snapshot completeness)."""

from __future__ import annotations

from common.ebay.trading import ListPage
from fetcher.domain import Checkpoint, after_page
from fetcher.sources.trading import list_shape, page_number, reaches_everything, unseen


def items(*ids: int) -> list[dict[str, object]]:
    return [{"ItemID": str(i)} for i in ids]


def test_the_page_number_holds_the_offset() -> None:
    assert [page_number(o, 200) for o in (0, 199, 200, 1000, 1001)] == [1, 1, 2, 6, 6]


def test_entries_before_the_offset_are_skipped() -> None:
    # An oversized page moved the offset to 250: page 2 starts at 200, its first 50 are done.
    page = items(*range(200, 400))
    assert unseen(page, 250, 2, 200) == page[50:]
    assert unseen(page, 200, 2, 200) == page


def test_more_than_25000_listings_cannot_all_be_reached() -> None:
    assert reaches_everything(25_000, 125, 200)
    assert not reaches_everything(25_001, 125, 200)
    assert reaches_everything(0, 0, 200)


def test_a_page_of_a_snapshot_beyond_the_ceiling_is_incomplete() -> None:
    page = ListPage(items(1, 2), total_entries=30_000, total_pages=125)
    shape = list_shape(page, page.records, 1, 200)
    assert not shape.complete and shape.has_next and shape.total == 30_000
    # The fetcher's checkpoint then carries the mark to the snapshot's last page.
    outcome = after_page(
        Checkpoint(), shape, published_pages=1, max_passes=3, phases=1, snapshot=True
    )
    assert outcome.checkpoint.incomplete


def test_the_last_page_of_a_reachable_list_ends_it_complete() -> None:
    page = ListPage(items(5), total_entries=5, total_pages=3)
    shape = list_shape(page, page.records, 3, 2)
    assert shape.complete and not shape.has_next and shape.consumed == 1


def test_an_empty_page_never_asks_for_more() -> None:
    shape = list_shape(ListPage([], 5, 3), [], 2, 2)
    assert not shape.has_next and shape.consumed == 0
