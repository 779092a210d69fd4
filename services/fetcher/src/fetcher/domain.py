"""Pure decisions of the fetcher: checkpoints, page splitting and retry delays."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict

from common.redelivery import retry_delay

__all__ = [
    "Checkpoint",
    "OversizedRecordError",
    "PageOutcome",
    "after_page",
    "retry_delay",
    "split_records",
]


class Checkpoint(BaseModel):
    """Where a window's fetch stands after its last published page (stored per run in KV)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pass_no: int = 1
    offset: int = 0
    next_page_no: int = 1
    # The result set's size when this pass began; a change means rows moved during the pass.
    total: int | None = None
    unstable: bool = False
    done: bool = False


@dataclass(frozen=True)
class PageOutcome:
    """What to do with one fetched eBay page, decided before it is published."""

    checkpoint: Checkpoint
    # True when this page ends the window: its last batch carries the page count.
    ends_window: bool
    # True when every pass saw rows move: the window is retried later, from a fresh pass.
    gave_up: bool = False


def after_page(
    checkpoint: Checkpoint,
    *,
    total: int,
    received: int,
    has_next: bool,
    published_pages: int,
    max_passes: int,
) -> PageOutcome:
    """Advance the checkpoint past one eBay page.

    Rows only ever leave a window while we page it (their new last-modified time is past the
    window's end), so an unchanged total proves no row shifted to an offset we already read.
    """
    pass_total = checkpoint.total if checkpoint.total is not None else total
    moved = checkpoint.unstable or total != pass_total
    advanced = replace_checkpoint(
        checkpoint,
        offset=checkpoint.offset + received,
        next_page_no=checkpoint.next_page_no + published_pages,
        total=pass_total,
        unstable=moved,
    )
    if has_next and received > 0:
        return PageOutcome(advanced, ends_window=False)
    if not moved:
        return PageOutcome(replace_checkpoint(advanced, done=True), ends_window=True)
    # Page again from the start; page numbers keep counting up so no page id is reused.
    gave_up = checkpoint.pass_no >= max_passes
    fresh_pass = Checkpoint(
        pass_no=1 if gave_up else checkpoint.pass_no + 1, next_page_no=advanced.next_page_no
    )
    return PageOutcome(fresh_pass, ends_window=False, gave_up=gave_up)


def replace_checkpoint(checkpoint: Checkpoint, **changes: Any) -> Checkpoint:
    return checkpoint.model_copy(update=changes)


def split_records(records: Sequence[dict[str, Any]], max_bytes: int) -> list[list[dict[str, Any]]]:
    """Split a page's records into consecutive chunks whose JSON stays under ``max_bytes``.

    An empty page stays one (empty) chunk, so an empty window still publishes a last page.
    """
    chunks: list[list[dict[str, Any]]] = [[]]
    size = 0
    for record in records:
        record_size = len(orjson.dumps(record)) + 1
        if record_size > max_bytes:
            raise OversizedRecordError(f"one record is {record_size} bytes, over {max_bytes}")
        if chunks[-1] and size + record_size > max_bytes:
            chunks.append([])
            size = 0
        chunks[-1].append(record)
        size += record_size
    return chunks


class OversizedRecordError(ValueError):
    """A single eBay record is larger than a message may be."""
