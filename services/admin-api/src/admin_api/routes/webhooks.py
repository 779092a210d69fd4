"""eBay marketplace account-deletion notifications (public: eBay calls them).

GET answers eBay's endpoint validation challenge; POST takes a signed deletion notice and, once
the signature verifies, deactivates every account of that eBay user and purges its data.
Both answer 404 until the verification token and the registered endpoint are configured.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from admin_api.context import AdminContext
from admin_api.dependencies import ContextDep, NowDep, SessionDep, SettingsDep
from admin_api.notifications import (
    DELETION_TOPIC,
    REVOCATION_TOPIC,
    challenge_response,
)
from admin_api.settings import AdminApiSettings
from admin_api.signed_bodies import SIGNED_BODY_RESPONSES, SignedRestBody
from common.db.accounts import AccountRepository
from common.db.admin import AccountDataRepository, DeletionNoticeRepository

router = APIRouter(prefix="/api/ebay", tags=["ebay notifications"])
log = logging.getLogger(__name__)


def _configured(settings: SettingsDep) -> tuple[str, str]:
    token, endpoint = settings.deletion_verification_token, settings.deletion_endpoint
    if token is None or not endpoint:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "account-deletion notifications are not configured"
        )
    return token.get_secret_value(), endpoint


@router.get(
    "/account-deletion",
    response_class=JSONResponse,
    responses={200: {"description": '{"challengeResponse": "<hex sha256>"}'}, 404: {}},
)
async def deletion_challenge(
    settings: SettingsDep, challenge_code: Annotated[str, Query(min_length=1, max_length=512)]
) -> JSONResponse:
    """eBay's endpoint validation: ``sha256(challengeCode + verificationToken + endpoint)``."""
    token, endpoint = _configured(settings)
    return JSONResponse({"challengeResponse": challenge_response(challenge_code, token, endpoint)})


@router.post(
    "/account-deletion",
    status_code=status.HTTP_204_NO_CONTENT,
    # The 404 before the body is read: a dependency of the route runs before its parameters'.
    dependencies=[Depends(_configured)],
    responses={
        204: {"description": "Processed, a replay acknowledged without effect, or not ours"},
        400: {"description": "Not a JSON notification, or nested too deeply"},
        404: {"description": "Not configured"},
        **SIGNED_BODY_RESPONSES,
        503: {"description": "eBay's signing key could not be fetched; eBay will retry"},
    },
)
async def deletion_notice(
    settings: SettingsDep,
    session: SessionDep,
    context: ContextDep,
    now: NowDep,
    parsed: SignedRestBody,
) -> Response:
    """In this order, each step bounded: read at most the body limit, check the signature
    header, fetch the key, verify; only then (or to rebuild the compact form eBay signs)
    parse, in a thread and depth-limited; refuse a replay; then purge."""
    notice = _notice(parsed)
    topic = notice.get("metadata", {}).get("topic")
    if topic in (DELETION_TOPIC, REVOCATION_TOPIC):
        await apply_account_notice(session, context, notice, topic, now, settings)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def apply_account_notice(
    session: AsyncSession,
    context: AdminContext,
    notice: dict[str, Any],
    topic: str,
    now: datetime,
    settings: AdminApiSettings,
) -> None:
    """A verified deletion or revocation notice acts on every account of that eBay user, once
    per notification id (also the push ingress's, admin_api.routes.push)."""
    notification = notice.get("notification", {})
    window = timedelta(seconds=settings.deletion_replay_window_seconds)
    if not await _first_sight(session, notification, now, window):
        return
    data = notification.get("data", {})
    data = data if isinstance(data, dict) else {}
    accounts = AccountRepository(session)
    found = list(await accounts.find_by_ebay_user_id(str(data.get("userId", ""))))
    if not found and data.get("username"):
        found = list(await accounts.find_by_username(str(data["username"])))
    for account in found:
        if topic == REVOCATION_TOPIC:
            await accounts.revoke(account, now)
            log.info("eBay user revoked the app: account %s stops, its tokens deleted", account.id)
            continue
        deleted = await AccountDataRepository(session).purge(account, now)
        log.info("eBay user deleted: account %s deactivated, %s rows purged", account.id, deleted)
    # The id is remembered in the action's own transaction: a failed one is retried by eBay.
    # Committed here, not by the request's unit of work: the push route publishes next.
    await session.commit()
    if found:
        context.changes.notify()


async def _first_sight(
    session: AsyncSession, notification: dict[str, Any], now: datetime, window: timedelta
) -> bool:
    """Whether this notice is new: its id unseen within the replay window, and not published
    before the window (an id older than the window is no longer remembered)."""
    notification_id = notification.get("notificationId")
    if not isinstance(notification_id, str) or not 0 < len(notification_id) <= 256:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the notification has no id")
    published = published_at(notification.get("publishDate"))
    if published is not None and published < now - window:
        log.warning("deletion notice %s is older than the replay window: ignored", notification_id)
        return False
    if not await DeletionNoticeRepository(session).first_sight(notification_id, now, now - window):
        log.info("deletion notice %s seen before: acknowledged without effect", notification_id)
        return False
    return True


def published_at(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        published = datetime.fromisoformat(value)
    except ValueError:
        return None
    return published if published.tzinfo else published.replace(tzinfo=UTC)


def _notice(notice: Any) -> dict[str, Any]:
    if not isinstance(notice, dict) or not all(
        isinstance(notice.get(k, {}), dict) for k in ("metadata", "notification")
    ):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "not a notification")
    notification = notice.get("notification", {})
    if not isinstance(notification.get("data", {}), dict):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "not a notification")
    return notice
