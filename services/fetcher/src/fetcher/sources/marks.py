"""What earlier runs of a pair did and saw: when a refresh phase last ran, what a change check
last answered, which message headers were published. Sources use them to skip calls.

A mark is written by the fetcher while its run goes on (after the page it belongs to is
published), but only the writer knows when the run's last page is committed. The rule, in one
place (:func:`is_committed`): a mark counts only once a later window starts after the start of
the run that wrote it. Windows start at ``cursor - overlap`` and the cursor moves only when a
run's last page commits (DESIGN §3.3), so a later start proves that run — and every page it
published — is in the mirror. A run that failed, was cancelled or dead-lettered leaves its
marks unproven: the next window starts where it started, and repeats what the marks would
have let it skip. A repair (cursor moved back) makes every mark unproven too.

Marks live where the detail digests do (``fetch_checkpoints``, shared by every replica, keys
expiring two days after their last write): a lost or expired mark only costs calls, never data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from common.families import PHASE_CADENCES, Family
from common.messages import SyncWindow
from fetcher.sources.details import Digests, Seen

__all__ = ["Mark", "Marks", "PhaseClock", "is_committed", "is_due"]


@dataclass(frozen=True)
class Mark:
    # The run's "now" (``issued_at``) when it was written.
    at: datetime
    # Where the run that wrote it started (its ``window_from``).
    run_from: datetime
    # What the run saw (a digest); no spaces.
    seen: str = ""


def is_committed(mark: Mark, window: SyncWindow) -> bool:
    """Whether the run that wrote ``mark`` is proven committed: ``window`` starts after it."""
    return window.window_from is not None and window.window_from > mark.run_from


def is_due(mark: Mark | None, window: SyncWindow, cadence: timedelta | None) -> bool:
    """Whether a phase with ``cadence`` (None: every window) runs in ``window``.

    It runs when it never ran, when the run that ran it is not proven committed, when its
    cadence has passed since, and when the clock went back past it.
    """
    if cadence is None or mark is None or not is_committed(mark, window):
        return True
    elapsed = window.issued_at - mark.at
    return elapsed >= cadence or elapsed < timedelta(0)


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class Marks:
    """Marks in a :class:`Digests` store (the fetcher's KV bucket, or memory in tests)."""

    def __init__(self, store: Digests) -> None:
        self._store = store

    async def get(self, key: str) -> Mark | None:
        stored = await self._store.get(key)
        if stored is None:
            return None
        run_from, _, seen = stored.digest.partition("~")
        try:
            return Mark(
                at=datetime.fromtimestamp(stored.at, UTC),
                run_from=datetime.fromtimestamp(int(run_from) / 1000, UTC),
                seen=seen,
            )
        except ValueError:
            return None  # unreadable: as if never written

    async def put(self, key: str, mark: Mark) -> None:
        if " " in mark.seen or "~" in mark.seen:
            raise ValueError("a mark's seen value holds no spaces or '~'")
        digest = f"{_epoch_ms(mark.run_from)}~{mark.seen}"
        await self._store.put(key, Seen(digest, mark.at.timestamp()))


def phase_key(family: Family, account_id: int, phase: str) -> str:
    return f"phase.{family}.{account_id}.{phase}"


Published = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class PhaseClock:
    """When each refresh phase of a family is due (``common.families.PHASE_CADENCES``)."""

    marks: Marks
    cadences: Mapping[str, timedelta]

    async def is_due(self, family: Family, window: SyncWindow, phase: str) -> bool:
        cadence = self.cadences.get(phase)
        if cadence is None:
            return True
        mark = await self.marks.get(phase_key(family, window.account_id, phase))
        return is_due(mark, window, cadence)

    def ran(self, family: Family, window: SyncWindow, phases: Sequence[str]) -> Published:
        """Records that ``phases`` ran in ``window`` (call once its last page is published)."""
        assert window.window_from is not None, "refresh phases belong to windows"
        mark = Mark(at=window.issued_at, run_from=window.window_from)

        async def record() -> None:
            for phase in phases:
                await self.marks.put(phase_key(family, window.account_id, phase), mark)

        return record


def clock_of(marks: Marks, family: Family) -> PhaseClock:
    """The family's phase clock with its default cadences."""
    return PhaseClock(marks, PHASE_CADENCES.get(family, {}))


def then(first: Published | None, second: Published | None) -> Published | None:
    """Both callbacks, in order (None when neither)."""
    if first is None or second is None:
        return first or second

    async def both() -> None:
        await first()
        await second()

    return both
