"""What the admin API asks over the bus besides window commands (those go through
:func:`common.scheduling.publish_window`, the scheduler's own path). Errors are mapped to this
module's exceptions::

    BusError
    ├── InFlight              JetStream holds a window of this pair already (err 10077)
    └── ServiceUnavailable    no token service answered in time
"""

from __future__ import annotations

import nats.errors
from faststream.nats import NatsBroker

from common.messages import (
    AccessTokenReply,
    ConnectAccount,
    ConnectAccountReply,
    GetAccessToken,
    encoded,
)

JSON = {"content-type": "application/json"}


class BusError(Exception):
    pass


class InFlight(BusError):
    pass


class ServiceUnavailable(BusError):
    pass


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
