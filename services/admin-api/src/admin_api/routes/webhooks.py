"""eBay marketplace account-deletion notifications (public: eBay calls them).

GET answers eBay's endpoint validation challenge; POST takes a signed deletion notice and, once
the signature verifies, deactivates every account of that eBay user and purges its data.
Both answer 404 until the verification token and the registered endpoint are configured.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response, status
from fastapi.responses import JSONResponse

from admin_api.dependencies import ContextDep, NowDep, SessionDep, SettingsDep
from admin_api.notifications import (
    DELETION_TOPIC,
    BadSignature,
    KeyUnavailable,
    challenge_response,
    parse_signature_header,
    verify_signature,
)
from admin_api.settings import AdminApiSettings
from common.db.accounts import AccountRepository
from common.db.admin import AccountDataRepository

router = APIRouter(prefix="/api/ebay", tags=["ebay notifications"])
log = logging.getLogger(__name__)


def _configured(settings: AdminApiSettings) -> tuple[str, str]:
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
    responses={
        204: {"description": "Processed (or not ours to process)"},
        400: {"description": "Not a JSON notification"},
        404: {"description": "Not configured"},
        412: {"description": "The signature does not verify"},
        503: {"description": "eBay's signing key could not be fetched; eBay will retry"},
    },
)
async def deletion_notice(
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    context: ContextDep,
    now: NowDep,
    x_ebay_signature: Annotated[str | None, Header(max_length=8192)] = None,
) -> Response:
    _configured(settings)
    body = await request.body()
    try:
        header = parse_signature_header(x_ebay_signature)
        key = await context.notification_keys.get(header.kid)
        if key is None:
            raise BadSignature(f"eBay does not know key {header.kid}")
        verify_signature(key, header, body)
    except BadSignature as exc:
        raise HTTPException(status.HTTP_412_PRECONDITION_FAILED, str(exc)) from exc
    except KeyUnavailable as exc:
        log.warning("cannot verify a deletion notice now: %s", exc)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
    notice = _notice(body)
    if notice.get("metadata", {}).get("topic") != DELETION_TOPIC:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    data = notice.get("notification", {}).get("data", {})
    accounts = AccountRepository(session)
    found = list(await accounts.find_by_ebay_user_id(str(data.get("userId", ""))))
    if not found and data.get("username"):
        found = list(await accounts.find_by_username(str(data["username"])))
    for account in found:
        deleted = await AccountDataRepository(session).purge(account, now)
        log.info("eBay user deleted: account %s deactivated, %s rows purged", account.id, deleted)
    await session.commit()
    if found:
        context.changes.notify()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _notice(body: bytes) -> dict[str, Any]:
    try:
        notice = json.loads(body)
    except ValueError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the notification is not JSON") from exc
    if not isinstance(notice, dict) or not all(
        isinstance(notice.get(k, {}), dict) for k in ("metadata", "notification")
    ):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "not a notification")
    notification = notice.get("notification", {})
    if not isinstance(notification.get("data", {}), dict):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "not a notification")
    return notice
