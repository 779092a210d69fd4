"""Request/reply subscribers of the token service (one queue group: one replica answers)."""

from __future__ import annotations

from typing import Annotated

from faststream import Context
from faststream.nats import NatsRouter

from common.messages import (
    AccessTokenReply,
    ConnectAccount,
    ConnectAccountReply,
    GetAccessToken,
    GetSigningKey,
    SigningKeyReply,
)
from token_service.service import TokenService
from token_service.signing_keys import SigningKeyService

router = NatsRouter()
TokenServiceDep = Annotated[TokenService, Context("token_service")]
SigningKeysDep = Annotated[SigningKeyService, Context("signing_keys")]
QUEUE = "token-service"


@router.subscriber(GetAccessToken.SUBJECT, queue=QUEUE)
async def get_access_token(request: GetAccessToken, service: TokenServiceDep) -> AccessTokenReply:
    return await service.get_access_token(request)


@router.subscriber(ConnectAccount.SUBJECT, queue=QUEUE)
async def connect_account(request: ConnectAccount, service: TokenServiceDep) -> ConnectAccountReply:
    return await service.connect(request)


@router.subscriber(GetSigningKey.SUBJECT, queue=QUEUE)
async def get_signing_key(request: GetSigningKey, keys: SigningKeysDep) -> SigningKeyReply:
    return await keys.get_signing_key(request)
