"""Fencing: which run of a pair may still write (docs/adr/0011-fencing.md).

Each run carries the fencing number its pair had when the run was queued; the pair remembers
the number of its newest run. A page is judged against that number in its own transaction,
under the pair's row lock, so the verdict holds until the page commits.
"""

from __future__ import annotations

from enum import StrEnum


class FenceVerdict(StrEnum):
    # The pair's newest run: write the page.
    CURRENT = "current"
    # Newer than any run the pair knows (its queued record was lost): write it, and it becomes
    # the pair's newest run, superseding the older ones.
    NEWER = "newer"
    # Older than the pair's newest run: its page must neither overwrite newer data nor end
    # rows, so it is refused (dead-lettered as stale).
    STALE = "stale"


# The reason a refused page is dead-lettered with.
STALE_FENCE = "stale fence"


def judge_fence(run_fence: int, pair_fence: int) -> FenceVerdict:
    """A page of the run fenced ``run_fence`` against its pair's newest fence."""
    if run_fence < pair_fence:
        return FenceVerdict.STALE
    if run_fence > pair_fence:
        return FenceVerdict.NEWER
    return FenceVerdict.CURRENT
