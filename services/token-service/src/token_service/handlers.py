"""Request/reply subscribers of the token service (one queue group: one replica answers).

Replies are sent by hand (``no_reply``): a request that arrived before the connection dropped
is not answered over the new connection. The NATS server allows a reply only on the connection
that received the request (``allow_responses``); answered on another cluster node after a
reconnect, it is refused as a publish violation and never arrives. The requester times out and
asks again with a new request, which this replica, or another, answers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Annotated

from faststream.nats import NatsBroker, NatsMessage, NatsRouter
from nats.aio.client import Client as NatsClient

from common.bus import Broker, Delivery, LoopContext
from common.messages import (
    ConnectAccount,
    GetAccessToken,
    GetSigningKey,
    Message,
    encoded,
)
from token_service.service import TokenService
from token_service.signing_keys import SigningKeyService

log = logging.getLogger(__name__)

router = NatsRouter()
TokenServiceDep = Annotated[TokenService, LoopContext("token_service")]
SigningKeysDep = Annotated[SigningKeyService, LoopContext("signing_keys")]
QUEUE = "token-service"


def connection_epoch(client: NatsClient) -> int:
    """Changes whenever the client reconnects (to the same node or another)."""
    return int(client.stats["reconnects"])


def may_answer(epoch_at_request: int, epoch_now: int, *, connected: bool) -> bool:
    """Whether a reply can still reach the requester: only over the connection that received
    the request."""
    return connected and epoch_at_request == epoch_now


async def answer(msg: NatsMessage, broker: NatsBroker, reply: Awaitable[Message]) -> None:
    """Compute ``reply`` and send it, unless the connection that received ``msg`` is gone."""
    client = broker.connection
    # Taken before the reply is computed: a reconnect while it is must stop the answer.
    epoch = connection_epoch(client)
    computed = await reply
    if not msg.reply_to:
        return
    if not may_answer(epoch, connection_epoch(client), connected=client.is_connected):
        log.info("not answering a %s request received before a reconnect", msg.raw_message.subject)
        return
    await client.publish(msg.reply_to, encoded(computed))


@router.subscriber(GetAccessToken.SUBJECT, queue=QUEUE, no_reply=True)
async def get_access_token(
    request: GetAccessToken, service: TokenServiceDep, msg: Delivery, broker: Broker
) -> None:
    await answer(msg, broker, service.get_access_token(request))


@router.subscriber(ConnectAccount.SUBJECT, queue=QUEUE, no_reply=True)
async def connect_account(
    request: ConnectAccount, service: TokenServiceDep, msg: Delivery, broker: Broker
) -> None:
    await answer(msg, broker, service.connect(request))


@router.subscriber(GetSigningKey.SUBJECT, queue=QUEUE, no_reply=True)
async def get_signing_key(
    request: GetSigningKey, keys: SigningKeysDep, msg: Delivery, broker: Broker
) -> None:
    await answer(msg, broker, keys.get_signing_key(request))
