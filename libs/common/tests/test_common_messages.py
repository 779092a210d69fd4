"""Message contracts: subjects, dedup ids, and secrets that only the wire sees."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr, ValidationError

from common.families import Family
from common.messages import AccessTokenReply, PageBatch, SyncWindow, Trigger, encoded

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def window(**overrides: object) -> SyncWindow:
    values: dict[str, object] = {
        "run_id": uuid.uuid4(),
        "account_id": 42,
        "family": Family.ORDERS,
        "window_from": NOW,
        "window_to": NOW,
        "trigger": Trigger.SCHEDULE,
        "issued_at": NOW,
    }
    return SyncWindow.model_validate(values | overrides)


def test_a_window_subject_names_family_and_account() -> None:
    assert window().subject == "sync.window.orders.42"


def test_the_same_scheduled_window_has_the_same_message_id_whatever_its_run() -> None:
    assert window().message_id == window().message_id


def test_a_manual_run_is_never_deduplicated_against_another() -> None:
    assert window(trigger=Trigger.MANUAL).message_id != window(trigger=Trigger.MANUAL).message_id


def test_messages_refuse_unknown_fields_and_naive_datetimes() -> None:
    with pytest.raises(ValidationError):
        SyncWindow.model_validate({**window().model_dump(), "extra": 1})
    with pytest.raises(ValidationError):
        window(window_to=datetime(2026, 1, 1))  # noqa: DTZ001


def test_page_ids_are_per_run_and_page() -> None:
    run_id = uuid.uuid4()
    page = PageBatch(
        run_id=run_id,
        account_id=1,
        family=Family.ORDERS,
        window_from=NOW,
        window_to=NOW,
        trigger=Trigger.SCHEDULE,
        page_no=3,
        page_count=3,
        fetched_at=NOW,
        records=[],
    )
    assert page.message_id == f"{run_id}:3"
    assert page.is_last


def test_a_token_reaches_the_wire_but_no_repr_or_plain_dump() -> None:
    reply = AccessTokenReply(account_id=1, access_token=SecretStr("v^1.1#secret"))
    assert "v^1.1#secret" not in repr(reply)
    assert "v^1.1#secret" not in str(reply.model_dump())
    assert b"v^1.1#secret" in encoded(reply)
    parsed = AccessTokenReply.model_validate_json(encoded(reply))
    assert parsed.access_token is not None
    assert parsed.access_token.get_secret_value() == "v^1.1#secret"
