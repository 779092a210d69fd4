"""The writer's part in isolating failures (docs/adr/0005-dead-letters.md).

* :class:`DeadLetterMover` takes a window or page that ran out of deliveries off its work queue
  and into ``SYNC_DLQ``, which frees the pair's subject for the next window; it reads the
  advisories from the ``SYNC_ADVISORIES`` stream, so a failed move is retried, not lost;
* :class:`FailureRecorder` marks the run of every dead letter failed and counts failures of a
  pair (dead letters, and failed fetch attempts the fetcher reports) towards its circuit
  breaker, pausing the pair as :func:`common.breaker.pause_for` says.

The writer hosts both because it holds the database and the bus already.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from faststream.nats import NatsBroker
from nats.js.errors import NotFoundError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.breaker import BreakerSettings, pause_for
from common.db.accounts import AccountRepository
from common.db.runlog import LogKind, LogLine, RunLogRepository
from common.db.sync import SyncRepository
from common.deadletter import (
    MaxDeliveriesAdvisory,
    dead_letter_of_stored,
    failed_run,
    publish_dead_letter,
    run_of,
)
from common.families import Family
from common.messages import DeadLetter, WindowFailed
from common.metrics import BREAKER_PAUSES, RUNS_FAILED

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FailureRecorder:
    sessions: async_sessionmaker[AsyncSession]
    clock: Callable[[], datetime]
    breaker: BreakerSettings

    async def dead_lettered(self, letter: DeadLetter) -> bool:
        """Mark the letter's run failed and count it against its pair, once per run.

        Returns False when there was nothing to record: not a window or page, or its run had
        already ended.
        """
        run = failed_run(letter)
        if run is None:
            log.warning("dead letter from %s names no run", letter.original_subject)
            return False
        now = self.clock()
        async with self.sessions.begin() as session:
            if await AccountRepository(session).get(run.account_id) is None:
                # A page for an unknown account (ADR 0008): no run or pair to fail.
                log.warning("dead letter from %s names no known account", letter.original_subject)
                return False
            sync = SyncRepository(session)
            # The pair's row before the run's, as page transactions and the scheduler take
            # them (docs/adr/0011-fencing.md): the same order everywhere, no deadlock.
            await sync.lock_pair(run.account_id, run.family)
            if not await sync.fail_run(run, letter.reason):
                return False
            line = LogLine("writer", LogKind.ERROR, f"dead-lettered: {letter.reason}")
            await RunLogRepository(session).add(run.run_id, [line])
            await self._count(sync, run.account_id, run.family, letter.reason, now)
        RUNS_FAILED.labels(str(run.family)).inc()
        log.warning("run %s failed: %s", run.run_id, letter.reason)
        return True

    async def attempt_failed(self, event: WindowFailed) -> None:
        now = self.clock()
        async with self.sessions.begin() as session:
            error = f"attempt {event.attempt}: {event.error}"
            await self._count(SyncRepository(session), event.account_id, event.family, error, now)
            line = LogLine("fetcher", LogKind.ERROR, f"{error}; the window is retried later")
            await RunLogRepository(session).add(event.run_id, [line])

    async def _count(
        self, sync: SyncRepository, account_id: int, family: Family, error: str, now: datetime
    ) -> None:
        failures = await sync.record_failure(account_id, family, error, now)
        pause = pause_for(failures, self.breaker)
        if pause is None:
            return
        await sync.pause(account_id, family, pause)
        BREAKER_PAUSES.labels(str(family)).inc()
        log.warning(
            "account %s %s paused for %s after %s failures in a row",
            account_id,
            family,
            pause,
            failures,
        )


@dataclass(frozen=True)
class DeadLetterMover:
    broker: NatsBroker
    sessions: async_sessionmaker[AsyncSession]
    clock: Callable[[], datetime]
    publish_timeout: float

    async def move(self, advisory: MaxDeliveriesAdvisory) -> DeadLetter | None:
        """Dead-letter the message the advisory names and delete it from its work queue.

        Idempotent: a message already moved (or acked meanwhile) is not found and nothing
        happens; a second publish of the same letter is dropped by its ``Nats-Msg-Id``.
        """
        js = self.broker.config.connection_state.stream
        try:
            stored = await js.get_msg(advisory.stream, advisory.stream_seq)
        except NotFoundError:
            return None
        reason = f"exhausted {advisory.deliveries} deliveries"
        last_error = await self._last_error(stored.subject or "", stored.data or b"")
        if last_error:
            reason = f"{reason}: {last_error}"
        letter = dead_letter_of_stored(stored, advisory, reason, self.clock())
        await publish_dead_letter(self.broker, letter, self.publish_timeout)
        # NotFound: another replica, or the consumer's late ack, was first.
        with contextlib.suppress(NotFoundError):
            await js.delete_msg(advisory.stream, advisory.stream_seq)
        log.warning(
            "%s #%s moved to the dead letters: %s",
            advisory.stream,
            advisory.stream_seq,
            reason,
        )
        return letter

    async def _last_error(self, subject: str, data: bytes) -> str | None:
        """What the pair last failed with (the fetcher reports every failed attempt).

        Only an embellishment of the reason: if the database cannot say, the move goes on.
        """
        run = run_of(subject, data)
        if run is None:
            return None
        try:
            async with self.sessions() as session:
                return await SyncRepository(session).last_error(run.account_id, run.family)
        except Exception as exc:
            log.warning("last error of %s not read: %s", subject, exc)
            return None
