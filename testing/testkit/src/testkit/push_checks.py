"""Judging push on a running system: what notifications named, whether they all went into
windows, whether a pair ever had two windows in flight, and whether the mirror holds what the
source holds (``ebaysync.truths``)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Set
from datetime import datetime

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.events import EbayEvent
from common.db.push import ReceivedNotification
from common.db.sync import SyncRun
from common.families import Family
from ebaysync.truths import TRUTHS
from ebaysync.verify import changed_fields, mirrored_records, source_records
from testkit.push import push_settled, push_stats


async def notified_targets(
    sessions: async_sessionmaker[AsyncSession], account_id: int, family: Family, after_id: int
) -> set[str]:
    """The ids of ``family`` named by the account's notifications recorded after ``after_id``."""
    async with sessions() as session:
        rows = await session.scalars(
            select(ReceivedNotification.targets).where(
                ReceivedNotification.account_id == account_id,
                ReceivedNotification.family == str(family),
                ReceivedNotification.id > after_id,
            )
        )
        return {str(t) for targets in rows for t in targets}


async def notifications_windowed(
    sessions: async_sessionmaker[AsyncSession], account_id: int, after_id: int
) -> bool:
    """Every notification of the account recorded after ``after_id`` went into a window."""
    async with sessions() as session:
        pending = await session.scalar(
            select(func.count())
            .select_from(ReceivedNotification)
            .where(
                ReceivedNotification.account_id == account_id,
                ReceivedNotification.family.is_not(None),
                ReceivedNotification.id > after_id,
                ReceivedNotification.windowed_at.is_(None),
            )
        )
    return not pending


async def notifications_recorded(
    sessions: async_sessionmaker[AsyncSession], account_id: int, after_id: int
) -> int:
    """How many notifications of the account the scheduler recorded after ``after_id``."""
    async with sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(ReceivedNotification)
            .where(
                ReceivedNotification.account_id == account_id,
                ReceivedNotification.id > after_id,
            )
        )
    return int(count or 0)


async def all_windowed(
    sessions: async_sessionmaker[AsyncSession],
    sandbox: httpx.AsyncClient,
    account_id: int,
    after_id: int,
) -> bool:
    """The sandbox has nothing on its way, the scheduler recorded every notification it
    delivered (a duplicated one once: JetStream drops the copy by its id), and each of them
    went into a window. For a sandbox with one subscribed seller."""
    if not await push_settled(sandbox):
        return False
    totals = (await push_stats(sandbox))["totals"]
    unique = int(totals["delivered"]) - int(totals["duplicated"])
    if await notifications_recorded(sessions, account_id, after_id) < unique:
        return False
    return await notifications_windowed(sessions, account_id, after_id)


async def no_open_runs(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """No run of any pair is queued or running."""
    async with sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(SyncRun)
            .where(SyncRun.status.in_(["queued", "running"]))
        )
    return not count


def overlapping_runs(runs: Iterable[SyncRun]) -> list[str]:
    """Runs that were in flight together with another run of their pair (queued → finished
    intervals that overlap), or that a newer run superseded (``stale``): a line each."""
    by_pair: dict[tuple[int, str], list[SyncRun]] = defaultdict(list)
    found = []
    for run in runs:
        by_pair[(run.account_id, run.family)].append(run)
        if run.status == "stale":
            found.append(f"{run.family} run {run.run_id} ({run.trigger}) superseded: {run.error}")

    def began(run: SyncRun) -> datetime:
        moment = run.queued_at or run.started_at or run.finished_at
        assert moment is not None, f"run {run.run_id} has no time"
        return moment

    for (_, family), pair_runs in by_pair.items():
        ordered = sorted(pair_runs, key=began)
        for earlier, later in itertools.pairwise(ordered):
            if earlier.finished_at is None or began(later) < earlier.finished_at:
                found.append(
                    f"{family}: run {later.run_id} ({later.trigger}) queued at {began(later)} "
                    f"while run {earlier.run_id} ({earlier.trigger}) was open "
                    f"(finished {earlier.finished_at})"
                )
    return found


async def mirrored_as_source(
    sessions: async_sessionmaker[AsyncSession],
    sandbox: httpx.AsyncClient,
    account_id: int,
    username: str,
    family: Family,
    keys: Set[str],
) -> dict[str, str]:
    """Those of ``keys`` that the mirror lacks or holds otherwise than the sandbox now does,
    each with why (``missing``, or the fields that differ)."""
    truth = TRUTHS[family]
    source = await source_records(sandbox, truth, username)
    mirror = await mirrored_records(sessions, truth, account_id)
    wrong = {}
    for key in sorted(keys):
        if key not in mirror:
            wrong[key] = "missing" + ("" if key in source else " (unknown to the source)")
        elif mirror[key] != source.get(key):
            wrong[key] = f"differs in {changed_fields(mirror[key], source.get(key) or {})}"
    return wrong


async def first_writers(
    sessions: async_sessionmaker[AsyncSession],
    account_id: int,
    family: Family,
    keys: Set[str],
    after_id: int,
) -> dict[str, str]:
    """For each of ``keys`` with a history event after ``after_id``: the trigger of the run
    that recorded its first one."""
    async with sessions() as session:
        rows = await session.execute(
            select(EbayEvent.entity_id, SyncRun.trigger)
            .join(SyncRun, SyncRun.run_id == EbayEvent.run_id)
            .where(
                EbayEvent.account_id == account_id,
                EbayEvent.family == str(family),
                EbayEvent.id > after_id,
                EbayEvent.entity_id.in_(sorted(keys)),
            )
            .order_by(EbayEvent.id)
        )
        first: dict[str, str] = {}
        for entity_id, trigger in rows:
            first.setdefault(str(entity_id), str(trigger))
    return first
