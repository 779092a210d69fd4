"""What the admin API sends over the bus: window commands (the scheduler's own kind) and
requests to the token service. Errors are mapped to this module's exceptions::

    BusError
    ├── InFlight              JetStream holds a window of this pair already (err 10077)
    └── ServiceUnavailable    no token service answered in time
"""

from __future__ import annotations

import uuid
from datetime import datetime

import nats.errors
from faststream.nats import NatsBroker
from nats.js.errors import APIError
from opentelemetry.trace import SpanKind, Tracer

from common.families import SNAPSHOT_FAMILIES, Family
from common.messages import (
    AccessTokenReply,
    ConnectAccount,
    ConnectAccountReply,
    GetAccessToken,
    SyncWindow,
    Trigger,
    encoded,
)
from common.streams import WINDOWS_STREAM
from common.windows import Window

# JetStream's answer when the subject already holds a window: that pair is in flight.
MAX_MSGS_PER_SUBJECT_EXCEEDED = 10077
JSON = {"content-type": "application/json"}


class BusError(Exception):
    pass


class InFlight(BusError):
    pass


class ServiceUnavailable(BusError):
    pass


def manual_window(
    account_id: int, family: Family, window: Window | None, now: datetime
) -> SyncWindow:
    """The command an operator's "run now" sends: the scheduler's, with a fresh run id.

    Snapshot families enumerate everything, so they have no window start.
    """
    snapshot = family in SNAPSHOT_FAMILIES or window is None
    return SyncWindow(
        run_id=uuid.uuid4(),
        account_id=account_id,
        family=family,
        window_from=None if snapshot or window is None else window.start,
        window_to=now if snapshot or window is None else window.end,
        trigger=Trigger.MANUAL,
        issued_at=now,
    )


async def publish_window(
    broker: NatsBroker, tracer: Tracer, command: SyncWindow, within: float
) -> None:
    """Publish like the scheduler does: same stream, subject and ``Nats-Msg-Id``.

    The span is the root of the run's trace: fetcher and writer spans descend from it.
    """
    with tracer.start_as_current_span(
        f"run now sync.window.{command.family}", kind=SpanKind.PRODUCER
    ) as span:
        span.set_attribute("ebaysync.account_id", command.account_id)
        span.set_attribute("ebaysync.run_id", str(command.run_id))
        try:
            await broker.publish(
                encoded(command),
                command.subject,
                stream=WINDOWS_STREAM,
                headers={"Nats-Msg-Id": command.message_id, **JSON},
                timeout=within,
            )
        except APIError as exc:
            if exc.err_code == MAX_MSGS_PER_SUBJECT_EXCEEDED:
                raise InFlight(f"a {command.family} window of this account is in flight") from exc
            raise


async def request_access_token(
    broker: NatsBroker, account_id: int, within: float, *, force_refresh: bool = False
) -> AccessTokenReply:
    body = await _request(
        broker, GetAccessToken(account_id=account_id, force_refresh=force_refresh), within
    )
    return AccessTokenReply.model_validate_json(body)


async def request_connect(
    broker: NatsBroker, request: ConnectAccount, within: float
) -> ConnectAccountReply:
    return ConnectAccountReply.model_validate_json(await _request(broker, request, within))


async def _request(
    broker: NatsBroker, request: GetAccessToken | ConnectAccount, within: float
) -> bytes:
    try:
        response = await broker.request(
            encoded(request), request.SUBJECT, timeout=within, headers=JSON
        )
    except (nats.errors.Error, TimeoutError) as exc:
        raise ServiceUnavailable("the token service did not answer; try again") from exc
    return bytes(response.body)
