"""Dead letters of the org's accounts: list, inspect, replay (admin), discard (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from admin_api.commands import BusError
from admin_api.context import AdminContext
from admin_api.deadletters import DeadLetterStore, StoredDeadLetter, may_see
from admin_api.dependencies import MAX_ID, AdminUser, ContextDep, CurrentUser, SessionDep
from admin_api.schemas import DeadLetterDetailOut, DeadLetterOut, ReplayOut
from admin_api.security import Role
from common.db.accounts import AccountRepository, User

router = APIRouter(prefix="/api/dead-letters", tags=["dead letters"])
Sequence_ = Annotated[int, Path(ge=1, le=MAX_ID, description="The dead letter's DLQ sequence")]


def _store(context: AdminContext) -> DeadLetterStore:
    return DeadLetterStore(context.js, context.settings.nats.publish_timeout_seconds)


async def _visible(
    session: SessionDep, user: User, context: AdminContext, letters: list[StoredDeadLetter]
) -> list[StoredDeadLetter]:
    """The letters the caller may see (:func:`admin_api.deadletters.may_see`)."""
    accounts = AccountRepository(session)
    org_ids = {a.id for a in await accounts.list_for_org(user.org_id)}
    superadmin = Role(user.role).allows(Role.ADMIN) and context.settings.is_superadmin(user.email)
    named = {s.account_id for s in letters if s.account_id is not None}
    # Ids beyond a bigint name no row (and would fail the query).
    owned = await accounts.owned_ids({i for i in named if i <= MAX_ID}) if superadmin else set()
    return [s for s in letters if may_see(s.account_id, org_ids, owned, is_superadmin=superadmin)]


def _summary(stored: StoredDeadLetter) -> DeadLetterOut:
    letter = stored.letter
    return DeadLetterOut(
        sequence=stored.sequence,
        stored_at=stored.stored_at,
        account_id=stored.account_id,
        original_subject=letter.original_subject,
        original_stream=letter.original_stream,
        original_sequence=letter.original_sequence,
        reason=letter.reason,
        deliveries=letter.deliveries,
        failed_at=letter.failed_at,
    )


async def _org_letter(
    sequence: int, user: User, session: SessionDep, context: AdminContext
) -> StoredDeadLetter:
    stored = await _store(context).get(sequence)
    if stored is None or not await _visible(session, user, context, [stored]):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"dead letter {sequence} not found")
    return stored


@router.get("")
async def list_dead_letters(
    user: CurrentUser,
    session: SessionDep,
    context: ContextDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeadLetterOut]:
    """The newest dead letters of the org's accounts; for superadmins also those of no org's
    account (an unknown account, an unreadable subject)."""
    letters = await _visible(session, user, context, await _store(context).list())
    return [_summary(s) for s in letters[:limit]]


@router.get("/{sequence}", responses={404: {}})
async def get_dead_letter(
    sequence: Sequence_, user: CurrentUser, session: SessionDep, context: ContextDep
) -> DeadLetterDetailOut:
    """One dead letter with the original message: headers, body (base64, text, JSON)."""
    stored = await _org_letter(sequence, user, session, context)
    return DeadLetterDetailOut(
        **_summary(stored).model_dump(),
        original_headers=stored.letter.original_headers,
        original_data_base64=stored.letter.original_data_base64,
        original_text=stored.text,
        original_json=stored.json,
    )


@router.post("/{sequence}/replay", responses={404: {}, 409: {}})
async def replay_dead_letter(
    sequence: Sequence_, admin: AdminUser, session: SessionDep, context: ContextDep
) -> ReplayOut:
    """Publish the original again (subject, headers, body), then remove the dead letter."""
    stored = await _org_letter(sequence, admin, session, context)
    try:
        ack = await _store(context).replay(stored)
    except BusError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    context.changes.notify()
    return ReplayOut(
        replayed=True, subject=stored.letter.original_subject, stream=ack.stream, sequence=ack.seq
    )


@router.delete("/{sequence}", status_code=status.HTTP_204_NO_CONTENT, responses={404: {}})
async def discard_dead_letter(
    sequence: Sequence_, admin: AdminUser, session: SessionDep, context: ContextDep
) -> None:
    """Drop the dead letter for good."""
    await _org_letter(sequence, admin, session, context)
    await _store(context).discard(sequence)
