"""Composition root of the scheduler: ``faststream run scheduler.app:create_app --factory``."""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from datetime import timedelta

from faststream import FastStream
from faststream.nats import NatsRouter
from nats.aio.subscription import Subscription
from opentelemetry.sdk.trace import TracerProvider

from common.bus import durable_subscription
from common.clock import FollowingClock, utc_now
from common.control import PauseSwitch
from common.db.budget import BudgetRepository
from common.db.engine import build_engine, build_sessionmaker
from common.db.quotas import StoredQuotas
from common.ledger import CallCounter, CallLedger, CallLedgerSettings
from common.messages import NotificationReceived
from common.service import build_service
from common.streams import (
    BUCKETS,
    NOTIFICATION_SUBJECTS,
    NOTIFICATIONS_DURABLE,
    NOTIFICATIONS_STREAM,
    SCHEDULER_LEADER_KEY,
)
from common.tasks import cancel_and_wait
from scheduler.budget import Budget
from scheduler.handlers import listen_for_completions, until_next_tick
from scheduler.lease import LeaderLease
from scheduler.notifications import NotificationIntake
from scheduler.service import Scheduler, record_backlog, window_publisher
from scheduler.settings import SchedulerSettings

SERVICE = "scheduler"
log = logging.getLogger(__name__)


def create_app(
    settings: SchedulerSettings | None = None, tracer_provider: TracerProvider | None = None
) -> FastStream:
    settings = settings or SchedulerSettings()
    service = build_service(SERVICE, settings, tracer_provider, traces_sql=True)
    broker, app = service.broker, service.app
    engine = build_engine(settings.database)
    wake = asyncio.Event()
    completions: Subscription | None = None
    loop_task: asyncio.Task[None] | None = None
    scheduler: Scheduler | None = None
    budget: Budget | None = None
    intake: NotificationIntake | None = None

    notifications = NatsRouter()

    @notifications.subscriber(
        NOTIFICATION_SUBJECTS,
        **durable_subscription(
            NOTIFICATIONS_STREAM, NOTIFICATIONS_DURABLE, settings.nats, batch_size=16
        ),
    )
    async def notification_received(event: NotificationReceived) -> None:
        # Before start-up finished the message is redelivered (not acked: the handler raises).
        if intake is None:
            raise RuntimeError("the scheduler is not started yet")
        await intake.receive(event)

    broker.include_router(notifications)

    following = FollowingClock(settings.clock_url) if settings.clock_url else None

    async def run_forever(scheduler: Scheduler) -> None:
        js = broker.config.connection_state.stream
        while True:
            try:
                if following is not None:
                    # Once per tick interval: completed windows wake the loop far more often.
                    await following.fresh(within=settings.tick_seconds)
                await scheduler.tick()
                if budget is not None and scheduler.is_leader and budget.due():
                    await replan(scheduler, budget)
                if scheduler.is_leader:
                    await record_backlog(js)
                    if intake is not None:
                        await intake.flush_pending()  # coalesced ids of pairs now free
            except Exception:  # one failed tick must not stop scheduling
                log.exception("scheduler tick failed")
            await until_next_tick(
                wake,
                tick_seconds=settings.tick_seconds,
                gather_seconds=settings.wake_gather_seconds,
            )

    async def replan(scheduler: Scheduler, budget: Budget) -> None:
        try:
            scheduler.use_policies(await budget.recompute())
        except Exception:  # the last plan stays in force: syncing never stops for this
            log.exception("budget plan failed; keeping the last one")

    @app.after_startup
    async def start_ticking() -> None:
        nonlocal loop_task, scheduler, intake, budget, completions
        leases = await broker.key_value(BUCKETS.leases.bucket, declare=False)
        control = await broker.key_value(BUCKETS.control.bucket, declare=False)
        holder = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        scheduler = Scheduler(
            build_sessionmaker(engine),
            window_publisher(
                broker,
                settings.nats.publish_timeout_seconds,
                service.tracer_provider.get_tracer(SERVICE),
            ),
            LeaderLease(leases, SCHEDULER_LEADER_KEY, holder),
            PauseSwitch(control),
            settings.policies(),
            stale_after=timedelta(seconds=settings.stale_run_seconds),
            clock=following.now if following is not None else utc_now,
        )
        if settings.budget_enabled:
            ledger_kv = await broker.key_value(BUCKETS.call_ledger.bucket, declare=False)
            budget = Budget(
                build_sessionmaker(engine),
                CallLedger(ledger_kv, CallCounter(), CallLedgerSettings(quotas=settings.quotas)),
                settings.budget,
                settings.quotas,
                settings.policies(),
                stale_after=timedelta(seconds=settings.stale_run_seconds),
                clock=following.now if following is not None else utc_now,
                read_quotas=StoredQuotas(build_sessionmaker(engine), settings.quotas),
            )
        else:
            async with build_sessionmaker(engine).begin() as session:
                await BudgetRepository(session).clear()
        intake = NotificationIntake(
            build_sessionmaker(engine),
            window_publisher(broker, settings.nats.publish_timeout_seconds),
            following.now if following is not None else utc_now,
            publish_windows=settings.targeted_windows,
            stale_after=timedelta(seconds=settings.stale_run_seconds),
            recheck_seconds=settings.tick_seconds,
        )
        completions = await listen_for_completions(broker.config.connection_state.connection, wake)
        loop_task = asyncio.create_task(run_forever(scheduler))

    @app.on_shutdown
    async def stop_ticking() -> None:
        if completions is not None:
            await completions.unsubscribe()
        await cancel_and_wait(loop_task)
        if scheduler is not None:
            await scheduler.release_leadership()

    @app.after_shutdown
    async def close() -> None:
        await engine.dispose()
        if following is not None:
            await following.aclose()

    return app
