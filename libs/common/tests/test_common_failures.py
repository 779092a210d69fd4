"""The failure policy's ladder, rung by rung: pure (docs/adr/0020-failure-policy.md)."""

from __future__ import annotations

import pytest

from common.ebay.errors import (
    EbayAuthError,
    EbayError,
    EbayPayloadError,
    EbayQuotaError,
    EbayRequestError,
    EbayTransientError,
)
from common.failures import (
    AUTH_BACKOFF_STEPS,
    EBAY_PERMANENT,
    Action,
    Decision,
    FailurePolicy,
    Log,
    classify,
    retried_in_place,
    unstored,
)
from common.intake import MAX_REASON_CHARS
from common.redelivery import MAX_DELAY_SECONDS, MAX_RETRY_AFTER_SECONDS


class Unfixable(ValueError):
    pass


class Judged(Exception):
    def __init__(self, permanent: bool) -> None:
        super().__init__("judged")
        self.is_permanent = permanent


POLICY = FailurePolicy(
    permanent=(Unfixable, *EBAY_PERMANENT), judged=(Judged,), labels={Judged: "judged"}
)


@pytest.mark.parametrize("attempt", [1, 3])
@pytest.mark.parametrize(
    "exc",
    [Unfixable("no"), EbayRequestError("HTTP 400", status=400), EbayPayloadError("half a body")],
)
def test_a_permanent_kind_is_dead_lettered_with_its_kind_and_message(
    exc: Exception, attempt: int
) -> None:
    assert classify(exc, attempt, POLICY) == Decision(
        Action.DEAD_LETTER,
        reason=f"{type(exc).__name__}: {exc}",
        error=type(exc).__name__,
        log=Log.ERROR,
    )


def test_a_long_reason_is_cut_to_what_a_dead_letter_keeps() -> None:
    decision = classify(Unfixable("x" * 5000), 1, POLICY)
    assert len(decision.reason) == MAX_REASON_CHARS


def test_a_permanent_kind_is_counted_under_its_label() -> None:
    policy = FailurePolicy(permanent=(Unfixable,), labels={Unfixable: "malformed"})
    assert classify(Unfixable("no"), 1, policy).error == "malformed"


def test_a_kind_that_judges_itself_permanent_is_dead_lettered() -> None:
    assert classify(Judged(permanent=True), 2, POLICY) == Decision(
        Action.DEAD_LETTER, reason="Judged: judged", error="judged", log=Log.ERROR
    )


def test_a_kind_that_judges_itself_temporary_is_retried_with_backoff() -> None:
    assert classify(Judged(permanent=False), 3, POLICY) == Decision(
        Action.RETRY, 8.0, error="judged"
    )


def test_a_judging_kind_the_policy_does_not_name_follows_the_ladder() -> None:
    decision = classify(Judged(permanent=True), 1, FailurePolicy())
    assert decision.action is Action.RETRY and decision.log is Log.TRACEBACK


@pytest.mark.parametrize(("retry_after", "delay"), [(3600.0, 3600.0), (None, 4.0), (0.2, 1.0)])
def test_a_spent_quota_waits_for_its_reset_uncapped_and_is_no_error(
    retry_after: float | None, delay: float
) -> None:
    assert classify(EbayQuotaError("518", retry_after=retry_after), 2, POLICY) == Decision(
        Action.WAIT, delay
    )


def test_a_quota_wait_is_bounded_only_against_nonsense() -> None:
    decision = classify(EbayQuotaError("518", retry_after=10 * 24 * 3600.0), 1, POLICY)
    assert decision.delay == MAX_RETRY_AFTER_SECONDS


@pytest.mark.parametrize(
    ("exc", "delay"),
    [
        (EbayTransientError("HTTP 503", status=503), 2.0),
        (EbayTransientError("HTTP 429", status=429, retry_after=42), 42.0),
        (EbayTransientError("ReadTimeout"), 2.0),
    ],
)
def test_a_transient_ebay_failure_is_retried_after_ebays_delay_or_backoff(
    exc: EbayTransientError, delay: float
) -> None:
    assert classify(exc, 1, POLICY) == Decision(Action.RETRY, delay, error="transient")


@pytest.mark.parametrize("exc", [EbayAuthError("HTTP 401", status=401), EbayError("other")])
def test_another_ebay_failure_is_retried_after_a_longer_backoff(exc: EbayError) -> None:
    decision = classify(exc, 1, POLICY)
    assert decision == Decision(
        Action.RETRY, 2.0 ** (1 + AUTH_BACKOFF_STEPS), error=type(exc).__name__, log=Log.ERROR
    )


@pytest.mark.parametrize(("attempt", "delay"), [(1, 2.0), (2, 4.0), (9, 512.0), (10, 600.0)])
def test_anything_else_is_retried_with_a_capped_backoff_and_a_traceback(
    attempt: int, delay: float
) -> None:
    assert classify(ConnectionError("gone"), attempt, POLICY) == Decision(
        Action.RETRY, delay, error="ConnectionError", log=Log.TRACEBACK
    )
    assert classify(ConnectionError("gone"), 30, POLICY).delay == MAX_DELAY_SECONDS


def test_the_cap_is_the_policys() -> None:
    assert classify(RuntimeError(), 8, FailurePolicy(cap=60.0)).delay == 60.0


def test_the_default_policy_never_dead_letters() -> None:
    policy = FailurePolicy()
    for exc in (Unfixable(), EbayRequestError("400"), EbayPayloadError("x"), Judged(True)):
        assert classify(exc, 1, policy).action is Action.RETRY


def test_a_dead_letter_jetstream_did_not_take_keeps_the_message_for_a_backoff() -> None:
    assert unstored(3, POLICY) == Decision(Action.RETRY, 8.0)


class TestRetriedInPlace:
    def test_5xx_timeouts_and_unreadable_bodies_are(self) -> None:
        assert retried_in_place(EbayTransientError("HTTP 503", status=503))
        assert retried_in_place(EbayTransientError("ReadTimeout calling ..."))
        assert retried_in_place(EbayPayloadError("malformed JSON", status=200))

    def test_429_quotas_refusals_and_others_are_not(self) -> None:
        assert not retried_in_place(EbayTransientError("HTTP 429", status=429, retry_after=5))
        assert not retried_in_place(EbayQuotaError("518", retry_after=3600))
        assert not retried_in_place(EbayRequestError("HTTP 400", status=400))
        assert not retried_in_place(EbayAuthError("HTTP 401", status=401))
        assert not retried_in_place(RuntimeError("bug"))
