"""The fence decision (docs/adr/0011-fencing.md): pure, no fixtures."""

from __future__ import annotations

import pytest

from common.fencing import FenceVerdict, judge_fence


@pytest.mark.parametrize(
    ("run_fence", "pair_fence", "verdict"),
    [
        (7, 7, FenceVerdict.CURRENT),
        (6, 7, FenceVerdict.STALE),
        (0, 1, FenceVerdict.STALE),  # a run from before fencing, after a fenced one was queued
        (8, 7, FenceVerdict.NEWER),  # its queued record was lost: it is the newest now
        (1, 0, FenceVerdict.NEWER),
        (0, 0, FenceVerdict.CURRENT),  # pages sent before fencing still write
    ],
)
def test_a_page_is_judged_by_its_runs_fence_against_the_pairs(
    run_fence: int, pair_fence: int, verdict: FenceVerdict
) -> None:
    assert judge_fence(run_fence, pair_fence) is verdict
