"""Fetcher decisions: checkpoints across passes, page splitting, retry delays."""

from __future__ import annotations

import orjson
import pytest

from fetcher.domain import (
    Checkpoint,
    OversizedRecordError,
    PageShape,
    after_page,
    retry_delay,
    split_records,
)


class TestAfterPage:
    def test_a_middle_page_advances_offset_and_page_number(self) -> None:
        outcome = after_page(
            Checkpoint(),
            PageShape(consumed=200, total=450, has_next=True),
            published_pages=1,
            max_passes=3,
        )
        assert not outcome.ends_window
        assert outcome.checkpoint == Checkpoint(offset=200, next_page_no=2, total=450)

    def test_the_last_page_of_a_stable_pass_ends_the_window(self) -> None:
        checkpoint = Checkpoint(offset=400, next_page_no=3, total=450)
        outcome = after_page(
            checkpoint,
            PageShape(consumed=50, total=450, has_next=False),
            published_pages=2,
            max_passes=3,
        )
        assert outcome.ends_window
        assert outcome.checkpoint.done
        assert outcome.checkpoint.next_page_no == 5

    def test_an_empty_window_ends_at_once(self) -> None:
        outcome = after_page(
            Checkpoint(),
            PageShape(consumed=0, total=0, has_next=False),
            published_pages=1,
            max_passes=3,
        )
        assert outcome.ends_window

    def test_a_shrinking_result_set_pages_again_from_the_start(self) -> None:
        # Rows left the window while we paged: later rows shifted to offsets already read.
        checkpoint = Checkpoint(offset=200, next_page_no=2, total=450)
        outcome = after_page(
            checkpoint,
            PageShape(consumed=200, total=449, has_next=True),
            published_pages=1,
            max_passes=3,
        )
        assert outcome.checkpoint.unstable
        last = after_page(
            outcome.checkpoint,
            PageShape(consumed=49, total=449, has_next=False),
            published_pages=1,
            max_passes=3,
        )
        assert not last.ends_window
        assert last.checkpoint == Checkpoint(pass_no=2, offset=0, next_page_no=4)

    def test_after_the_last_allowed_pass_it_gives_up_and_resets(self) -> None:
        checkpoint = Checkpoint(pass_no=3, offset=0, next_page_no=9, total=10)
        outcome = after_page(
            checkpoint,
            PageShape(consumed=9, total=9, has_next=False),
            published_pages=1,
            max_passes=3,
        )
        assert outcome.gave_up
        assert not outcome.ends_window
        assert outcome.checkpoint == Checkpoint(pass_no=1, offset=0, next_page_no=10)

    def test_the_end_of_a_phase_starts_the_next_one_at_offset_zero(self) -> None:
        checkpoint = Checkpoint(offset=40, next_page_no=3, total=45)
        outcome = after_page(
            checkpoint,
            PageShape(consumed=5, total=45, has_next=False),
            published_pages=1,
            max_passes=3,
            phases=2,
        )
        assert not outcome.ends_window
        assert outcome.checkpoint == Checkpoint(phase=1, next_page_no=4)
        last = after_page(
            outcome.checkpoint,
            PageShape(consumed=3, total=3, has_next=False),
            published_pages=1,
            max_passes=3,
            phases=2,
        )
        assert last.ends_window
        assert last.checkpoint.done

    def test_a_moving_snapshot_ends_incomplete_instead_of_paging_again(self) -> None:
        checkpoint = Checkpoint(offset=200, next_page_no=2, total=450)
        outcome = after_page(
            checkpoint,
            PageShape(consumed=249, total=449, has_next=False),
            published_pages=1,
            max_passes=3,
            snapshot=True,
        )
        assert outcome.ends_window
        assert outcome.checkpoint.incomplete

    def test_an_unreachable_remainder_makes_the_snapshot_incomplete(self) -> None:
        first = after_page(
            Checkpoint(),
            PageShape(consumed=200, total=30_000, has_next=True, complete=False),
            published_pages=1,
            max_passes=3,
            snapshot=True,
        )
        last = after_page(
            first.checkpoint,
            PageShape(consumed=0, total=30_000, has_next=False),
            published_pages=1,
            max_passes=3,
            snapshot=True,
        )
        assert last.ends_window
        assert last.checkpoint.incomplete

    def test_a_stable_snapshot_is_complete(self) -> None:
        outcome = after_page(
            Checkpoint(),
            PageShape(consumed=20, total=20, has_next=False),
            published_pages=1,
            max_passes=3,
            snapshot=True,
        )
        assert outcome.ends_window
        assert not outcome.checkpoint.incomplete


class TestSplitRecords:
    def test_a_small_page_stays_whole(self) -> None:
        records = [{"orderId": str(i)} for i in range(10)]
        assert split_records(records, 10_000) == [records]

    def test_an_empty_page_is_one_empty_chunk(self) -> None:
        assert split_records([], 100) == [[]]

    def test_chunks_stay_under_the_limit_and_keep_every_record_in_order(self) -> None:
        records = [{"orderId": str(i), "pad": "x" * 300} for i in range(50)]
        chunks = split_records(records, 2_000)
        assert len(chunks) > 1
        assert [r for chunk in chunks for r in chunk] == records
        for chunk in chunks:
            assert sum(len(orjson.dumps(r)) + 1 for r in chunk) <= 2_000

    def test_a_record_larger_than_a_message_is_refused(self) -> None:
        with pytest.raises(OversizedRecordError):
            split_records([{"pad": "x" * 5_000}], 1_000)


def test_retry_delay_grows_exponentially_and_honours_retry_after() -> None:
    assert [retry_delay(n) for n in (1, 2, 3)] == [2.0, 4.0, 8.0]
    assert retry_delay(30) == 600.0
    assert retry_delay(1, retry_after=42) == 42.0
