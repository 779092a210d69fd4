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
    "PageShape",
    "after_page",
    "retry_delay",
    "split_records",
]


class Checkpoint(BaseModel):
    """Where a window's fetch stands after its last published page (stored per run in KV)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pass_no: int = 1
    # Index into the source's phases (e.g. the window search, then the still-open entities).
    phase: int = 0
    offset: int = 0
    next_page_no: int = 1
    # The result set's size when this pass began; a change means rows moved during the pass.
    total: int | None = None
    unstable: bool = False
    # A snapshot that could not enumerate everything: it must not mark missing rows ended.
    incomplete: bool = False
    done: bool = False


@dataclass(frozen=True)
class PageShape:
    """What the fetcher learned from one eBay page, apart from its records."""

    # Entries of the listing call this page consumed: how far the offset moves.
    consumed: int
    # The result set's size as the API reports it; None when the API does not say.
    total: int | None
    has_next: bool
    # False when the API cannot reach every entity (GetMyeBaySelling stops at 25,000).
    complete: bool = True


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
    page: PageShape,
    *,
    published_pages: int,
    max_passes: int,
    phases: int = 1,
    snapshot: bool = False,
) -> PageOutcome:
    """Advance the checkpoint past one eBay page.

    Rows only ever leave a window while we page it (their new last-modified time is past the
    window's end), so an unchanged total proves no row shifted to an offset we already read.
    A window whose rows moved is paged again; a snapshot whose rows moved is instead marked
    incomplete (a busy account would never hold still for a whole pass), so it sweeps nothing.
    """
    pass_total = checkpoint.total if checkpoint.total is not None else page.total
    moved = checkpoint.unstable or (
        page.total is not None and pass_total is not None and page.total != pass_total
    )
    advanced = replace_checkpoint(
        checkpoint,
        offset=checkpoint.offset + page.consumed,
        next_page_no=checkpoint.next_page_no + published_pages,
        total=pass_total,
        unstable=moved,
        incomplete=checkpoint.incomplete or not page.complete or (snapshot and moved),
    )
    if page.has_next and page.consumed > 0:
        return PageOutcome(advanced, ends_window=False)
    if not moved or snapshot:
        if checkpoint.phase + 1 < phases:
            next_phase = Checkpoint(
                phase=checkpoint.phase + 1,
                next_page_no=advanced.next_page_no,
                incomplete=advanced.incomplete,
            )
            return PageOutcome(next_phase, ends_window=False)
        return PageOutcome(replace_checkpoint(advanced, done=True), ends_window=True)
    # Page the phase again from the start; page numbers keep counting up so no page id is reused.
    gave_up = checkpoint.pass_no >= max_passes
    fresh_pass = Checkpoint(
        pass_no=1 if gave_up else checkpoint.pass_no + 1,
        phase=checkpoint.phase,
        next_page_no=advanced.next_page_no,
        incomplete=advanced.incomplete,
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
