"""One tick is a batch (issue 12): set-based reads, windows published together, queued runs in
one statement; on real JetStream and PostgreSQL. What a batch must never do: send a pair two
windows, record a refused window as queued, leave a published window without its queued run,
or send a pair that is not due."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.control import PauseSwitch
from common.db.sync import SyncRepository, SyncRun, SyncState
from common.families import Family, Purpose
from common.messages import SyncWindow, Trigger, encoded
from common.scheduling import PublishOutcome
from common.streams import BUCKETS, SCHEDULER_LEADER_KEY, WINDOWS_STREAM
from scheduler.domain import WindowPolicy
from scheduler.lease import LeaderLease
from scheduler.service import PublishWindows, Scheduler, window_publisher
from testkit.factories import create_account

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

POLICY = WindowPolicy(
    overlap=timedelta(minutes=10),
    initial_backfill=timedelta(days=90),
    lookback_limit=timedelta(days=730),
    max_window=timedelta(days=7),
    settle_lag=timedelta(minutes=2),
    cadence=timedelta(minutes=5),
)
FAMILIES = (Family.ORDERS, Family.OFFERS)


class Recorder:
    """The real publisher, remembering every batch it was given and what JetStream said."""

    def __init__(self, publish: PublishWindows) -> None:
        self._publish = publish
        self.batches: list[list[SyncWindow]] = []
        self.outcomes: list[PublishOutcome | Exception] = []

    async def __call__(self, commands: Sequence[SyncWindow]) -> list[PublishOutcome | Exception]:
        self.batches.append(list(commands))
        outcomes = await self._publish(commands)
        self.outcomes.extend(outcomes)
        return outcomes


async def make_scheduler(
    broker: NatsBroker,
    sessions: async_sessionmaker[AsyncSession],
    recorder: Recorder,
    clock: list[datetime],
) -> Scheduler:
    leases = await broker.key_value(BUCKETS.leases.bucket, declare=False)
    control = await broker.key_value(BUCKETS.control.bucket, declare=False)
    return Scheduler(
        sessions,
        recorder,
        LeaderLease(leases, SCHEDULER_LEADER_KEY, "batch"),
        PauseSwitch(control),
        dict.fromkeys(FAMILIES, POLICY),
        stale_after=timedelta(minutes=30),
        clock=lambda: clock[0],
    )


async def accounts(sessions: async_sessionmaker[AsyncSession], count: int) -> list[int]:
    async with sessions.begin() as session:
        return [(await create_account(session, purpose=Purpose.SELLER)).id for _ in range(count)]


async def windows_on_bus(js: JetStreamContext, ids: Sequence[int]) -> dict[tuple[int, str], int]:
    info = await js.stream_info(WINDOWS_STREAM, subjects_filter=f"{SyncWindow.SUBJECT_PREFIX}.>")
    found = {}
    for subject, count in (info.state.subjects or {}).items():
        family, account = subject.split(".")[-2:]
        if int(account) in ids:
            found[(int(account), family)] = count
    return found


async def runs_of(sessions: async_sessionmaker[AsyncSession], ids: Sequence[int]) -> list[SyncRun]:
    async with sessions() as session:
        return list(await session.scalars(select(SyncRun).where(SyncRun.account_id.in_(ids))))


async def test_a_tick_sends_each_pair_one_window_and_records_each_as_queued_once(
    broker: NatsBroker, topology: JetStreamContext, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ids = await accounts(sessions, 4)
    recorder = Recorder(window_publisher(broker, timeout=10))
    clock = [datetime.now(UTC)]
    scheduler = await make_scheduler(broker, sessions, recorder, clock)
    assert await scheduler.tick() >= len(ids) * len(FAMILIES)
    mine = [c for batch in recorder.batches for c in batch if c.account_id in ids]
    pairs = [(c.account_id, str(c.family)) for c in mine]
    assert len(pairs) == len(set(pairs)) == len(ids) * len(FAMILIES)
    # Every window on the bus has its queued run, and every queued run its window.
    bus = await windows_on_bus(topology, ids)
    assert bus == dict.fromkeys(pairs, 1)
    runs = await runs_of(sessions, ids)
    assert {r.run_id for r in runs} == {c.run_id for c in mine}
    assert all(r.status == "queued" for r in runs)
    # The next tick (the pairs in flight) sends nothing more and queues nothing more.
    clock[0] += timedelta(seconds=5)
    await scheduler.tick()
    assert await windows_on_bus(topology, ids) == bus
    assert len(await runs_of(sessions, ids)) == len(runs)


async def test_a_window_refused_as_in_flight_is_not_recorded_as_queued(
    broker: NatsBroker, topology: JetStreamContext, sessions: async_sessionmaker[AsyncSession]
) -> None:
    blocked, free = await accounts(sessions, 2)
    # A window already holds the blocked pair's subject, its run unknown to the database (the
    # scheduler that sent it died before recording it): only JetStream knows it is in flight.
    held = SyncWindow.model_validate(
        {
            "run_id": "00000000-0000-4000-8000-000000000001",
            "account_id": blocked,
            "family": "orders",
            "window_from": None,
            "window_to": datetime.now(UTC),
            "trigger": Trigger.MANUAL,
            "issued_at": datetime.now(UTC),
        }
    )
    await topology.publish(
        held.subject,
        encoded(held),
        stream=WINDOWS_STREAM,
        headers={"Nats-Msg-Id": held.message_id},
    )
    recorder = Recorder(window_publisher(broker, timeout=10))
    scheduler = await make_scheduler(broker, sessions, recorder, [datetime.now(UTC)])
    await scheduler.tick()
    commands = [c for batch in recorder.batches for c in batch]
    sent = {(c.account_id, c.family): o for c, o in zip(commands, recorder.outcomes, strict=True)}
    assert sent[(blocked, Family.ORDERS)] is PublishOutcome.IN_FLIGHT
    assert sent[(free, Family.ORDERS)] is PublishOutcome.ACCEPTED
    runs = {(r.account_id, r.family) for r in await runs_of(sessions, [blocked, free])}
    assert (blocked, "orders") not in runs
    assert {(blocked, "offers"), (free, "orders"), (free, "offers")} <= runs
    # Still looked at next tick: a refused pair keeps its due time.
    await scheduler.tick()
    assert sum(1 for b in recorder.batches for c in b if c.account_id == blocked) == 3


def orders_of(recorder: Recorder, account: int) -> list[SyncWindow]:
    return [
        c
        for batch in recorder.batches
        for c in batch
        if c.account_id == account and c.family == Family.ORDERS
    ]


async def test_a_pair_not_due_is_not_sent_before_its_due_time(
    broker: NatsBroker, sessions: async_sessionmaker[AsyncSession]
) -> None:
    (account,) = await accounts(sessions, 1)
    now = datetime.now(UTC)
    caught_up = now - POLICY.settle_lag - timedelta(minutes=1)
    async with sessions.begin() as session:
        session.add(SyncState(account_id=account, family="orders", cursor=caught_up))
    recorder = Recorder(window_publisher(broker, timeout=10))
    clock = [now]
    scheduler = await make_scheduler(broker, sessions, recorder, clock)
    await scheduler.tick()  # every pair read (a new leader): orders is not due
    await scheduler.tick()  # only what can be due read: still not
    assert orders_of(recorder, account) == []
    async with sessions() as session:
        due_at = await session.scalar(
            text("SELECT due_at FROM sync_state WHERE account_id = :a AND family = 'orders'"),
            {"a": account},
        )
    # Stored by the database clock: when its next window spans a cadence.
    assert due_at is not None and due_at > now + timedelta(minutes=3)
    clock[0] = caught_up + POLICY.cadence + POLICY.settle_lag - timedelta(seconds=1)
    await scheduler.tick()
    assert orders_of(recorder, account) == []
    # A second passes, by the planner's clock and by the database's (where it is stored).
    clock[0] += timedelta(seconds=1)
    async with sessions.begin() as session:
        await session.execute(
            text(
                "UPDATE sync_state SET due_at = due_at - interval '1 second' "
                "WHERE account_id = :a AND family = 'orders'"
            ),
            {"a": account},
        )
    await scheduler.tick()
    assert [c.trigger for c in orders_of(recorder, account)] == [Trigger.SCHEDULE]


async def test_a_completed_window_of_a_pair_still_behind_is_followed_at_the_next_tick(
    broker: NatsBroker, topology: JetStreamContext, sessions: async_sessionmaker[AsyncSession]
) -> None:
    (account,) = await accounts(sessions, 1)
    async with sessions.begin() as session:
        session.add(
            SyncState(
                account_id=account, family="orders", cursor=datetime.now(UTC) - timedelta(days=30)
            )
        )
    recorder = Recorder(window_publisher(broker, timeout=10))
    scheduler = await make_scheduler(broker, sessions, recorder, [datetime.now(UTC)])
    await scheduler.tick()
    (first,) = orders_of(recorder, account)
    assert first.trigger == Trigger.CATCH_UP
    assert first.committed_run is None  # no run of the pair committed yet: trust no mark
    await scheduler.tick()  # in flight: its due time is when the run could turn stale
    assert len(orders_of(recorder, account)) == 1
    # The fetcher acks it, the writer commits its last page: the cursor moves, still behind.
    await topology.purge_stream(WINDOWS_STREAM, subject=first.subject)
    async with sessions.begin() as session:
        await SyncRepository(session).complete_run(first)
    await scheduler.tick()
    sent = orders_of(recorder, account)
    assert len(sent) == 2 and sent[1].window_from == first.window_to - POLICY.overlap
    # The next window names the run that committed: the fetcher trusts its marks, no other's.
    assert sent[1].committed_run == first.run_id
