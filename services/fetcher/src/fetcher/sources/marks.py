"""What earlier runs of a pair did and saw: when a refresh phase last ran, what a change check
last answered, which message headers were published. Sources use them to skip calls.

A mark is written by the fetcher while its run goes on, but only the writer knows whether the
run's pages commit: a run fenced off (stale), failed, cancelled or dead-lettered wrote marks of
pages the mirror never got. The rule, in one place (:func:`trusts`, docs/adr/0021): a mark
counts only when it was written by the pair's last committed run, which the scheduler names in
the window (``SyncWindow.committed_run``, read from ``sync_state.last_run_id`` while it holds
the pair's fence row, so no page of any older run can commit after it), or by the window's own
run (its pages commit together with it, or its marks never count for anyone else). Every
other mark is ignored and the run does the work it would have spared. A run that relies on a
trusted mark writes it again under its own id (:meth:`PhaseClock.is_due`), so the marks of a
committed run are always the ones the next window trusts.

Marks live where the detail digests do (``fetch_checkpoints``, shared by every replica, keys
expiring two days after their last write): a lost or expired mark only costs calls, never data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from common.families import Family, spec
from common.messages import SyncWindow
from fetcher.sources.details import Digests, Seen

__all__ = ["Mark", "Marks", "PhaseClock", "is_due", "trusts"]


@dataclass(frozen=True)
class Mark:
    # When what it records happened: the "now" (``issued_at``) of the run that first saw it.
    at: datetime
    # The run that wrote it: the mark counts only if that run committed (:func:`trusts`).
    run: UUID
    # What the run saw (a digest); no spaces, no '~'.
    seen: str = ""
    # Another run whose marks this one vouches for (messages: the run whose header marks still
    # describe the mirror when this run found nothing changed); None: none.
    vouches: UUID | None = None


def trusts(mark: Mark | None, window: SyncWindow) -> bool:
    """Whether ``mark`` may spare calls in ``window``: it was written by the pair's last
    committed run (``window.committed_run``) or by the window's own run."""
    if mark is None:
        return False
    return mark.run == window.run_id or (
        window.committed_run is not None and mark.run == window.committed_run
    )


def is_due(mark: Mark | None, window: SyncWindow, cadence: timedelta | None) -> bool:
    """Whether a phase with ``cadence`` (None: every window) runs in ``window``.

    It runs when it never ran, when the run that ran it is not trusted (:func:`trusts`), when
    its cadence has passed since, and when the clock went back past it.
    """
    if cadence is None or mark is None or not trusts(mark, window):
        return True
    elapsed = window.issued_at - mark.at
    return elapsed >= cadence or elapsed < timedelta(0)


class Marks:
    """Marks in a :class:`Digests` store (the fetcher's KV bucket, or memory in tests)."""

    def __init__(self, store: Digests) -> None:
        self._store = store

    async def get(self, key: str) -> Mark | None:
        stored = await self._store.get(key)
        if stored is None:
            return None
        try:
            run, vouches, seen = stored.digest.split("~", 2)
            return Mark(
                at=datetime.fromtimestamp(stored.at, UTC),
                run=UUID(run),
                seen=seen,
                vouches=UUID(vouches) if vouches else None,
            )
        except ValueError:
            return None  # unreadable (or written before run ids): as if never written

    async def put(self, key: str, mark: Mark) -> None:
        if " " in mark.seen or "~" in mark.seen:
            raise ValueError("a mark's seen value holds no spaces or '~'")
        vouches = mark.vouches.hex if mark.vouches is not None else ""
        digest = f"{mark.run.hex}~{vouches}~{mark.seen}"
        await self._store.put(key, Seen(digest, mark.at.timestamp()))


def phase_key(family: Family, account_id: int, phase: str) -> str:
    return f"phase.{family}.{account_id}.{phase}"


Published = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class PhaseClock:
    """When each refresh phase of a family is due (``FamilySpec.cadences``)."""

    marks: Marks
    cadences: Mapping[str, timedelta]

    async def is_due(self, family: Family, window: SyncWindow, phase: str) -> bool:
        """Whether ``phase`` runs in ``window``. When a trusted mark spares it, the mark is
        written again under the window's run (same ``at``): once that run commits, it is the
        one the next window trusts."""
        cadence = self.cadences.get(phase)
        if cadence is None:
            return True
        key = phase_key(family, window.account_id, phase)
        mark = await self.marks.get(key)
        if is_due(mark, window, cadence):
            return True
        assert mark is not None
        if mark.run != window.run_id:
            await self.marks.put(key, Mark(at=mark.at, run=window.run_id))
        return False

    def ran(self, family: Family, window: SyncWindow, phases: Sequence[str]) -> Published:
        """Records that ``phases`` ran in ``window`` (call once its last page is published)."""
        mark = Mark(at=window.issued_at, run=window.run_id)

        async def record() -> None:
            for phase in phases:
                await self.marks.put(phase_key(family, window.account_id, phase), mark)

        return record


def clock_of(marks: Marks, family: Family) -> PhaseClock:
    """The family's phase clock with its default cadences."""
    return PhaseClock(marks, spec(family).cadences)


def then(first: Published | None, second: Published | None) -> Published | None:
    """Both callbacks, in order (None when neither)."""
    if first is None or second is None:
        return first or second

    async def both() -> None:
        await first()
        await second()

    return both
