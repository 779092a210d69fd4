"""Handler arguments from FastStream's context: resolved on the event loop, no worker thread.

fast_depends hands a custom field's synchronous ``use`` to ``anyio.to_thread.run_sync``; the
test counts those hand-offs while FastStream's in-memory broker delivers a message, once with
FastStream's own ``Context`` (the control: it hops) and once with ``common.bus``'s arguments.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any

import anyio.to_thread
import pytest
from faststream import Context
from faststream.nats import NatsBroker, NatsMessage, TestNatsBroker

from common.bus import Broker, Delivery, LoopContext

SUBJECT = "test.context"


class Hops:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = anyio.to_thread.run_sync

        async def counted(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await real(func, *args, **kwargs)

        monkeypatch.setattr(anyio.to_thread, "run_sync", counted)


async def deliver(subscribe: Callable[[NatsBroker, asyncio.Future[Any]], None]) -> Any:
    broker = NatsBroker()
    got: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    subscribe(broker, got)
    async with TestNatsBroker(broker) as test_broker:
        test_broker.context.set_global("thing", "the thing")
        await test_broker.publish({"n": 1}, SUBJECT)
        return await asyncio.wait_for(got, 5)


async def test_loop_context_arguments_need_no_worker_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hops = Hops(monkeypatch)

    def subscribe(broker: NatsBroker, got: asyncio.Future[Any]) -> None:
        @broker.subscriber(SUBJECT)
        async def handle(
            body: dict[str, int],
            msg: Delivery,
            bus: Broker,
            thing: Annotated[str, LoopContext("thing")],
        ) -> None:
            got.set_result((body, msg.raw_message.subject, bus is broker, thing))

    assert await deliver(subscribe) == ({"n": 1}, SUBJECT, True, "the thing")
    assert hops.count == 0


async def test_faststreams_own_context_hops_to_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    hops = Hops(monkeypatch)

    def subscribe(broker: NatsBroker, got: asyncio.Future[Any]) -> None:
        @broker.subscriber(SUBJECT)
        async def handle(
            body: dict[str, int], msg: NatsMessage, thing: Annotated[str, Context("thing")]
        ) -> None:
            got.set_result((body, thing))

    assert await deliver(subscribe) == ({"n": 1}, "the thing")
    assert hops.count >= 2  # one per argument from the context
