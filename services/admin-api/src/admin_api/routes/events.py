"""The event inbox: every entity's change history and the business events, org-scoped."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import AwareDatetime

from admin_api.dependencies import MAX_ID, CurrentUser, SessionDep
from admin_api.schemas import EventOut, EventPageOut
from common.db.accounts import AccountRepository
from common.db.events import EventPosition, EventQuery, EventRepository
from common.db.topics import Topic
from common.families import Family

router = APIRouter(prefix="/api/events", tags=["events"])

ChangeKind = Literal["created", "changed", "ended"]


def encode_cursor(position: EventPosition) -> str:
    raw = json.dumps({"at": position.occurred_at.isoformat(), "id": position.id})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> EventPosition:
    """The position a cursor names; 422 for anything that is not one of ours."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        occurred_at = datetime.fromisoformat(raw["at"])
        event_id = int(raw["id"])
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "invalid cursor") from exc
    if occurred_at.tzinfo is None or not 1 <= event_id <= MAX_ID:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "invalid cursor")
    return EventPosition(occurred_at, event_id)


@router.get("")
async def list_events(
    user: CurrentUser,
    session: SessionDep,
    account_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    family: Annotated[list[Family] | None, Query(description="repeat for several")] = None,
    entity_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    change_kind: Annotated[list[ChangeKind] | None, Query()] = None,
    topic: Annotated[list[Topic] | None, Query(description="business events of these")] = None,
    business: Annotated[bool, Query(description="only business events (any topic)")] = False,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    order: Literal["newest", "oldest"] = "newest",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> EventPageOut:
    """History events of the org's accounts (or one account), newest first by default; pass
    ``next_cursor`` back as ``cursor`` for the next page."""
    after = decode_cursor(cursor) if cursor else None
    accounts = await AccountRepository(session).list_for_org(user.org_id)
    names = {a.id: a.house_name for a in accounts if account_id is None or a.id == account_id}
    events = await EventRepository(session).search(
        list(names),
        EventQuery(
            families=[str(f) for f in family or ()],
            entity_id=entity_id,
            change_kinds=list(change_kind or ()),
            topics=list(topic or ()),
            with_topic=business,
            since=since,
            until=until,
            order=order,
            after=after,
            limit=limit + 1,  # one more tells whether there is a next page
        ),
    )
    page = events[:limit]
    last = page[-1] if len(events) > limit else None
    return EventPageOut(
        events=[
            EventOut.model_validate(e).model_copy(update={"house_name": names[e.account_id]})
            for e in page
        ],
        next_cursor=encode_cursor(EventPosition(last.occurred_at, last.id)) if last else None,
    )


@router.get("/{event_id}", responses={404: {}})
async def get_event(
    event_id: Annotated[int, Path(ge=1, le=MAX_ID)], user: CurrentUser, session: SessionDep
) -> EventOut:
    """One event with its old and new values; another org's event does not exist (404)."""
    event = await EventRepository(session).get(event_id)
    account = (
        await AccountRepository(session).get_for_org(user.org_id, event.account_id)
        if event is not None
        else None
    )
    if event is None or account is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"event {event_id} not found")
    return EventOut.model_validate(event).model_copy(update={"house_name": account.house_name})
