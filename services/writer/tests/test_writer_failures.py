"""The writer's failure policy: the rungs its handlers had, kept as they were."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from common.failures import Action, Decision, FailurePolicy, Log, classify
from common.redelivery import retry_delay
from writer.domain import MalformedRecordError
from writer.handlers import POLICY
from writer.service import UnsupportedFamilyError
from writer.validation import RefusedPageError


@pytest.mark.parametrize(
    "exc",
    [
        MalformedRecordError("order without an orderId"),
        UnsupportedFamilyError("no mapping for x"),
        RefusedPageError("unknown account 7"),
    ],
)
def test_a_page_retrying_cannot_fix_is_dead_lettered_as_malformed(exc: Exception) -> None:
    assert classify(exc, 1, POLICY) == Decision(
        Action.DEAD_LETTER,
        reason=f"{type(exc).__name__}: {exc}",
        error="malformed",
        log=Log.ERROR,
    )


@pytest.mark.parametrize("policy", [POLICY, FailurePolicy()])
@pytest.mark.parametrize("attempt", [1, 5])
def test_the_database_failing_hands_the_message_back_after_a_backoff(
    policy: FailurePolicy, attempt: int
) -> None:
    exc = OperationalError("SELECT 1", {}, ConnectionRefusedError())
    assert classify(exc, attempt, policy) == Decision(
        Action.RETRY, retry_delay(attempt), error="OperationalError", log=Log.TRACEBACK
    )
