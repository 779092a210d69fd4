"""The token service's pure decisions: when to refresh, when a 401 was already handled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from common.messages import token_fingerprint
from token_service.domain import (
    already_replaced,
    consent_ending_message,
    needs_refresh,
    refresh_reason,
    sweep_horizon,
)
from token_service.handlers import may_answer

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
AHEAD = timedelta(minutes=5)


def test_a_token_is_refreshed_when_forced_missing_or_inside_the_margin() -> None:
    assert needs_refresh(NOW + timedelta(hours=1), NOW, AHEAD, forced=True)
    assert needs_refresh(None, NOW, AHEAD, forced=False)
    assert needs_refresh(NOW + timedelta(minutes=4), NOW, AHEAD, forced=False)
    assert not needs_refresh(NOW + timedelta(minutes=6), NOW, AHEAD, forced=False)


def test_the_reason_names_why() -> None:
    assert refresh_reason(NOW + timedelta(hours=1), NOW, forced=True) == "forced"
    assert refresh_reason(NOW - timedelta(seconds=1), NOW, forced=False) == "expired"
    assert refresh_reason(NOW + timedelta(minutes=1), NOW, forced=False) == "ahead"


def test_a_rejected_token_that_is_no_longer_stored_was_already_replaced() -> None:
    old, new = token_fingerprint(SecretStr("old")), token_fingerprint(SecretStr("new"))
    assert already_replaced(new, rejected_fingerprint=old)
    # The stored token is the one eBay refused: refresh it.
    assert not already_replaced(old, rejected_fingerprint=old)
    # No fingerprint (an operator's forced refresh): always refresh.
    assert not already_replaced(new, rejected_fingerprint=None)
    assert not already_replaced(None, rejected_fingerprint=old)


def test_a_fingerprint_names_a_token_without_showing_it() -> None:
    fingerprint = token_fingerprint(SecretStr("v^1.1#secret"))
    assert fingerprint == token_fingerprint(SecretStr("v^1.1#secret"))
    assert fingerprint != token_fingerprint(SecretStr("v^1.1#secreT"))
    assert "secret" not in fingerprint and len(fingerprint) == 64


def test_a_sweep_reaches_what_would_enter_the_margin_before_the_next_sweep() -> None:
    horizon = sweep_horizon(AHEAD, timedelta(minutes=1))
    assert horizon == timedelta(minutes=6)
    # Not yet due for a caller, but it would be before the next sweep: the sweep takes it.
    expires = NOW + timedelta(minutes=5, seconds=30)
    assert not needs_refresh(expires, NOW, AHEAD, forced=False)
    assert needs_refresh(expires, NOW, horizon, forced=False)


def test_the_consent_warning_says_when_and_what_to_do() -> None:
    soon = consent_ending_message(7, NOW + timedelta(days=12, hours=12), NOW)
    assert "account 7" in soon and "12.5 days" in soon and "reconnect" in soon
    past = consent_ending_message(7, NOW - timedelta(days=1), NOW)
    assert "expired" in past and "must reconnect" in past


class TestAnsweringAfterAReconnect:
    """The server accepts a reply only on the connection that received the request."""

    def test_a_request_is_answered_over_the_same_connection(self) -> None:
        assert may_answer(3, 3, connected=True)

    def test_a_request_received_before_a_reconnect_is_not_answered(self) -> None:
        assert not may_answer(3, 4, connected=True)

    def test_nothing_is_answered_while_disconnected(self) -> None:
        assert not may_answer(3, 3, connected=False)
