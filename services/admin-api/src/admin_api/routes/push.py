"""The push ingress: eBay's change notifications (public: eBay calls them, no operator auth).

``/ebay/notifications/rest`` takes the Notification API's JSON (``X-EBAY-SIGNATURE``), and
answers the destination's GET challenge; ``/ebay/notifications/trading`` takes Platform
Notifications (SOAP, ``NotificationSignature``). In every request, in this order and each
step bounded: the body is read up to the limit (413 beyond), the signature verified before
anything else is parsed (412 forged or unknown key, 503 when eBay's key cannot be fetched now,
so eBay resends), the payload's age checked (409 too old: a replay), and a
``NotificationReceived`` published with ``Nats-Msg-Id`` = the notification id. An id JetStream
already holds (eBay resending one whose acknowledgement it missed, or a replay) is acknowledged
all the same, without effect, and said so in the ``Ebaysync-Duplicate`` header: eBay takes only
200, 201, 202, 204 (REST) and 200 (Trading) as an acknowledgement and resends anything else.
Nothing else happens here: the scheduler turns the message into a targeted window
(docs/adr/0018-push-notifications.md).
Account deletion and revocation go to the existing handler (routes.webhooks).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from fastapi.responses import JSONResponse
from faststream.nats import NatsBroker

from admin_api.dependencies import ContextDep, SessionDep, SettingsDep
from admin_api.notifications import challenge_response
from admin_api.routes.webhooks import apply_account_notice, published_at
from admin_api.settings import PushSettings
from admin_api.signed_bodies import SIGNED_BODY_RESPONSES, BoundedBody, SignedRestBody
from common.messages import NotificationReceived, encoded
from common.push import (
    ACCOUNT_TOPICS,
    Notice,
    NotNotification,
    StaleTimestamp,
    TradingRefused,
    rest_notice,
    trading_notice,
    verify_trading,
)
from common.streams import NOTIFICATIONS_STREAM

router = APIRouter(prefix="/ebay/notifications", tags=["ebay push notifications"])
log = logging.getLogger(__name__)

REST_PATH = "/ebay/notifications/rest"
TRADING_PATH = "/ebay/notifications/trading"
# Set on the acknowledgement of a notification id received before (it had no effect).
DUPLICATE_HEADER = "Ebaysync-Duplicate"
# eBay waits 3 s at most (Trading, KB 1916): the publish must answer well within.
PUBLISH_TIMEOUT_SECONDS = 2.0


def _enabled(settings: SettingsDep) -> PushSettings:
    if not settings.push.enabled:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "push notifications are off")
    return settings.push


def rest_endpoint(push: PushSettings) -> str:
    """The endpoint as registered with eBay (createDestination): part of the challenge."""
    return push.public_url.rstrip("/") + REST_PATH


@router.get(
    "/rest",
    response_class=JSONResponse,
    responses={200: {"description": '{"challengeResponse": "<hex sha256>"}'}, 404: {}},
)
async def rest_challenge(
    settings: SettingsDep, challenge_code: Annotated[str, Query(min_length=1, max_length=512)]
) -> JSONResponse:
    """createDestination's challenge: ``sha256(challengeCode + verificationToken + endpoint)``."""
    push = _enabled(settings)
    token = push.verification_token.get_secret_value()
    return JSONResponse(
        {"challengeResponse": challenge_response(challenge_code, token, rest_endpoint(push))}
    )


@router.post(
    "/rest",
    status_code=status.HTTP_204_NO_CONTENT,
    # The 404 before the body is read: a dependency of the route runs before its parameters'.
    dependencies=[Depends(_enabled)],
    responses={
        204: {"description": "Accepted: a targeted sync follows"},
        # A notification id already received: also 204, no effect, header Ebaysync-Duplicate.
        400: {"description": "Signed, but not a notification"},
        404: {"description": "Push notifications are off"},
        409: {"description": "Published longer ago than ADMIN_API_PUSH__MAX_AGE_SECONDS"},
        **SIGNED_BODY_RESPONSES,
        503: {"description": "eBay's key or the bus is unavailable now; eBay will resend"},
    },
)
async def rest_notification(
    settings: SettingsDep,
    session: SessionDep,
    context: ContextDep,
    parsed: SignedRestBody,
) -> Response:
    try:
        notice = rest_notice(parsed)
    except NotNotification as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    published = _published_at(parsed)
    max_age = timedelta(seconds=settings.push.max_age_seconds)
    now = await context.ebay_now()
    if published is not None and published < now - max_age:
        now = await context.ebay_now(reread=True)
        if published < now - max_age:
            raise HTTPException(status.HTTP_409_CONFLICT, "the notification is too old: a replay")
    if notice.topic in ACCOUNT_TOPICS:
        # Deletion and revocation act on the account at once (issue 15's handler, reused).
        await apply_account_notice(session, context, parsed, notice.topic, now, settings)
    return await _publish(context.broker, notice, "rest", now)


@router.post(
    "/trading",
    status_code=status.HTTP_200_OK,
    dependencies=[Depends(_enabled)],
    responses={
        200: {"description": "Accepted: a targeted sync follows"},
        # A notification already received: also 200, no effect, header Ebaysync-Duplicate.
        400: {"description": "Signed, but not a notification"},
        404: {"description": "Push notifications are off"},
        412: {"description": "Unsigned, forged, or outside the timestamp tolerance"},
        413: {"description": "The body is larger than ADMIN_API_WEBHOOK_MAX_BODY_BYTES"},
        503: {"description": "The bus is unavailable now; eBay will resend"},
    },
)
async def trading_notification(
    body: BoundedBody, settings: SettingsDep, context: ContextDep
) -> Response:
    push = settings.push
    keyset = (
        push.trading_dev_id,
        settings.ebay.client_id,
        settings.ebay.client_secret.get_secret_value(),
    )
    tolerance = timedelta(seconds=push.trading_max_age_seconds)
    now = await context.ebay_now()
    try:
        try:
            stamp = verify_trading(body, *keyset, now, tolerance)
        except StaleTimestamp:
            # eBay's clock, when followed, may have moved since it was last read.
            now = await context.ebay_now(reread=True)
            stamp = verify_trading(body, *keyset, now, tolerance)
    except TradingRefused as exc:
        log.warning("trading notification refused: %s", exc)
        raise HTTPException(status.HTTP_412_PRECONDITION_FAILED, str(exc)) from exc
    try:
        notice = trading_notice(body, stamp)
    except NotNotification as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    # Trading wants 200 OK (contracts §7.5).
    return await _publish(context.broker, notice, "trading", now, acknowledged=status.HTTP_200_OK)


async def _publish(
    broker: NatsBroker,
    notice: Notice,
    source: Literal["rest", "trading"],
    now: datetime,
    *,
    acknowledged: int = status.HTTP_204_NO_CONTENT,
) -> Response:
    message = NotificationReceived(
        notification_id=notice.notification_id,
        source=source,
        topic=notice.topic,
        ebay_user_id=notice.ebay_user_id,
        username=notice.username,
        family=notice.family,
        targets=list(notice.targets),
        event_date=notice.event_date,
        received_at=now,
    )
    try:
        ack = await broker.publish(
            encoded(message),
            message.subject,
            stream=NOTIFICATIONS_STREAM,
            headers={"Nats-Msg-Id": message.message_id, "content-type": "application/json"},
            timeout=PUBLISH_TIMEOUT_SECONDS,
        )
    except Exception as exc:  # the bus is down or slow: eBay resends what we do not ack
        log.warning("cannot publish notification %s: %s", notice.notification_id, exc)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "cannot queue it now") from exc
    if ack.duplicate:
        log.info("notification %s received before: no effect", notice.notification_id)
        return Response(status_code=acknowledged, headers={DUPLICATE_HEADER: "true"})
    return Response(status_code=acknowledged)


def _published_at(parsed: Any) -> datetime | None:
    notification = parsed.get("notification", {}) if isinstance(parsed, dict) else {}
    return published_at(notification.get("publishDate") if isinstance(notification, dict) else None)
