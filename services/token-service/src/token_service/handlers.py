"""Request/reply subscribers of the token service (one queue group: one replica answers).

Replies are sent by hand (``no_reply``): a request that arrived before the connection dropped
is not answered over the new connection. The NATS server allows a reply only on the connection
that received the request (``allow_responses``); answered on another cluster node after a
reconnect, it is refused as a publish violation and never arrives. The requester times out and
asks again with a new request, which this replica, or another, answers.
"""

from __future__ import annotations

import logging
from typing import Annotated

from faststream import Context
from faststream.nats import NatsMessage, NatsRouter
from faststream.nats.annotations import NatsBroker as BrokerDep
from nats.aio.client import Client as NatsClient

from common.messages import (
    ConnectAccount,
    ConnectAccountReply,
    GetAccessToken,
    GetSigningKey,
    Message,
    SigningKeyReply,
    encoded,
)
from token_service.service import TokenService
from token_service.signing_keys import SigningKeyService

log = logging.getLogger(__name__)

router = NatsRouter()
TokenServiceDep = Annotated[TokenService, Context("token_service")]
SigningKeysDep = Annotated[SigningKeyService, Context("signing_keys")]
QUEUE = "token-service"


def connection_epoch(client: NatsClient) -> int:
    """Changes whenever the client reconnects (to the same node or another)."""
    return int(client.stats["reconnects"])


def may_answer(epoch_at_request: int, epoch_now: int, *, connected: bool) -> bool:
    """Whether a reply can still reach the requester: only over the connection that received
    the request."""
    return connected and epoch_at_request == epoch_now


async def answer(msg: NatsMessage, client: NatsClient, epoch: int, reply: Message) -> None:
    if not msg.reply_to:
        return
    if not may_answer(epoch, connection_epoch(client), connected=client.is_connected):
        log.info("not answering a %s request received before a reconnect", msg.raw_message.subject)
        return
    await client.publish(msg.reply_to, encoded(reply))


@router.subscriber(GetAccessToken.SUBJECT, queue=QUEUE, no_reply=True)
async def get_access_token(
    request: GetAccessToken, service: TokenServiceDep, msg: NatsMessage, broker: BrokerDep
) -> None:
    client = broker.connection
    epoch = connection_epoch(client)
    await answer(msg, client, epoch, await service.get_access_token(request))


@router.subscriber(ConnectAccount.SUBJECT, queue=QUEUE, no_reply=True)
async def connect_account(
    request: ConnectAccount, service: TokenServiceDep, msg: NatsMessage, broker: BrokerDep
) -> None:
    client = broker.connection
    epoch = connection_epoch(client)
    reply: ConnectAccountReply = await service.connect(request)
    await answer(msg, client, epoch, reply)


@router.subscriber(GetSigningKey.SUBJECT, queue=QUEUE, no_reply=True)
async def get_signing_key(
    request: GetSigningKey, keys: SigningKeysDep, msg: NatsMessage, broker: BrokerDep
) -> None:
    client = broker.connection
    epoch = connection_epoch(client)
    reply: SigningKeyReply = await keys.get_signing_key(request)
    await answer(msg, client, epoch, reply)
