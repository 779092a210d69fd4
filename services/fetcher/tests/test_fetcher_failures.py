"""The fetcher's failure policy: every rung of the ladder its handler had, kept as it was."""

from __future__ import annotations

import pytest

from common.ebay.errors import (
    EbayAuthError,
    EbayPayloadError,
    EbayQuotaError,
    EbayRequestError,
    EbayTransientError,
)
from common.failures import Action, Decision, Log, classify
from common.messages import TokenErrorCode
from common.redelivery import retry_delay
from fetcher.domain import OversizedRecordError
from fetcher.handlers import POLICY
from fetcher.service import (
    TokenServiceUnavailableError,
    UnsupportedFamilyError,
    WindowUnstableError,
)
from fetcher.tokens import SigningKeyUnavailableError, TokenUnavailableError


@pytest.mark.parametrize(
    "exc",
    [
        UnsupportedFamilyError("no source for family x"),
        EbayRequestError("HTTP 400", status=400),
        EbayPayloadError("malformed JSON", status=200),
        OversizedRecordError("one record is 2000000 bytes"),
    ],
)
def test_what_no_retry_can_fix_is_dead_lettered_at_the_first_delivery(exc: Exception) -> None:
    assert classify(exc, 1, POLICY) == Decision(
        Action.DEAD_LETTER,
        reason=f"{type(exc).__name__}: {exc}",
        error=type(exc).__name__,
        log=Log.ERROR,
    )


@pytest.mark.parametrize("code", [TokenErrorCode.NEEDS_REAUTH, TokenErrorCode.UNKNOWN_ACCOUNT])
def test_a_token_only_the_seller_can_fix_is_dead_lettered(code: TokenErrorCode) -> None:
    exc = TokenUnavailableError(7, code, "reconnect")
    decision = classify(exc, 1, POLICY)
    assert decision.action is Action.DEAD_LETTER and decision.error == "token"
    assert decision.reason == f"TokenUnavailableError: {exc}"


@pytest.mark.parametrize("attempt", [1, 4])
def test_a_refresh_that_failed_is_retried_with_backoff(attempt: int) -> None:
    exc = TokenUnavailableError(7, TokenErrorCode.REFRESH_FAILED, "eBay 500")
    assert classify(exc, attempt, POLICY) == Decision(
        Action.RETRY, retry_delay(attempt), error="token"
    )


@pytest.mark.parametrize(
    ("exc", "delay"),
    [
        (EbayQuotaError("daily orders call quota", retry_after=7200.0), 7200.0),
        # No token service answered: a wait with the delivery's backoff, not a failure.
        (TokenServiceUnavailableError("token service unavailable"), retry_delay(3)),
    ],
)
def test_a_spent_quota_or_an_absent_token_service_waits(exc: Exception, delay: float) -> None:
    assert classify(exc, 3, POLICY) == Decision(Action.WAIT, delay)


@pytest.mark.parametrize(
    ("exc", "delay"),
    [
        (EbayTransientError("HTTP 500", status=500), retry_delay(2)),
        (EbayTransientError("HTTP 429", status=429, retry_after=42.0), 42.0),
        (WindowUnstableError("kept moving"), retry_delay(2)),
        (SigningKeyUnavailableError("no key yet"), retry_delay(2)),
    ],
)
def test_a_transient_failure_is_retried_after_ebays_delay_or_backoff(
    exc: Exception, delay: float
) -> None:
    assert classify(exc, 2, POLICY) == Decision(Action.RETRY, delay, error="transient")


def test_a_401_with_a_fresh_token_is_retried_after_a_longer_backoff() -> None:
    assert classify(EbayAuthError("HTTP 401", status=401), 1, POLICY) == Decision(
        Action.RETRY, retry_delay(1 + 4), error="EbayAuthError", log=Log.ERROR
    )


def test_anything_unforeseen_is_retried_later_with_a_traceback() -> None:
    assert classify(TimeoutError("kv"), 2, POLICY) == Decision(
        Action.RETRY, retry_delay(2), error="TimeoutError", log=Log.TRACEBACK
    )
