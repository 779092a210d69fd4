"""What consumers refuse at the first delivery: pure rules (docs/adr/0008)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from common.families import Family
from common.intake import body_refusal, identity_refusal, subject_account
from common.messages import MAX_ACCOUNT_ID, PageBatch, SyncWindow, Trigger, encoded

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def window(account_id: int = 7, family: Family = Family.ORDERS) -> SyncWindow:
    return SyncWindow(
        run_id=uuid.uuid4(),
        account_id=account_id,
        family=family,
        window_from=NOW - timedelta(hours=1),
        window_to=NOW,
        trigger=Trigger.SCHEDULE,
        issued_at=NOW,
    )


@pytest.mark.parametrize(
    ("subject", "account"),
    [
        ("sync.page.orders.7", 7),
        ("sync.window.offers.123", 123),
        (f"sync.page.orders.{MAX_ACCOUNT_ID}", MAX_ACCOUNT_ID),
        (f"sync.page.orders.{MAX_ACCOUNT_ID + 1}", None),
        ("sync.page.orders.0", None),
        ("sync.page.orders.x", None),
        ("sync.page.orders", None),
        ("dlq.sync.page.orders.7", None),
    ],
)
def test_the_account_a_subject_names(subject: str, account: int | None) -> None:
    assert subject_account(subject) == account


class TestIdentity:
    def test_a_body_of_its_subjects_pair_passes(self) -> None:
        body = window().model_dump(mode="json")
        assert identity_refusal("sync.window.orders.7", "sync.window", body) is None

    def test_another_account_is_refused(self) -> None:
        body = window(account_id=8).model_dump(mode="json")
        assert identity_refusal("sync.window.orders.7", "sync.window", body) == (
            "body account_id 8 disagrees with subject 'sync.window.orders.7'"
        )

    def test_another_family_is_refused(self) -> None:
        body = window(family=Family.OFFERS).model_dump(mode="json")
        refusal = identity_refusal("sync.window.orders.7", "sync.window", body)
        assert refusal == "body family 'offers' disagrees with subject 'sync.window.orders.7'"

    def test_a_subject_of_another_shape_is_refused(self) -> None:
        body = window().model_dump(mode="json")
        refusal = identity_refusal("sync.window.orders.7.extra", "sync.window", body)
        assert refusal is not None and "is not sync.window.<family>.<account>" in refusal

    def test_what_is_not_an_object_is_left_to_validation(self) -> None:
        assert identity_refusal("sync.window.orders.7", "sync.window", b"\xff") is None


class TestBody:
    def test_a_valid_body_passes(self) -> None:
        assert body_refusal(SyncWindow, "sync.window.orders.7", encoded(window())) is None

    def test_the_validation_error_is_the_reason_without_the_input(self) -> None:
        secret = "x" * 5000
        data = b'{"records": "%s"}' % secret.encode()
        refusal = body_refusal(PageBatch, "sync.page.orders.7", data)
        assert refusal is not None and refusal.startswith("PageBatch does not validate: ")
        assert "run_id: Field required" in refusal and secret not in refusal

    def test_an_account_beyond_a_bigint_does_not_validate(self) -> None:
        body = window().model_dump(mode="json") | {"account_id": MAX_ACCOUNT_ID + 1}
        refusal = body_refusal(SyncWindow, "sync.window.orders.7", orjson.dumps(body))
        assert refusal is not None and "account_id: Input should be less than or equal" in refusal
