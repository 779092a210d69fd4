"""Pure decisions: token health, worker status lights, tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from admin_api.deadletters import may_see
from admin_api.domain import TokenHealth, token_verdict
from admin_api.notifications import (
    BadSignature,
    challenge_response,
    nesting_exceeds,
    parse_signature_header,
)
from admin_api.security import (
    InvalidToken,
    Role,
    issue_login_token,
    issue_state,
    read_login_token,
    read_state,
)
from admin_api.throttle import retry_after
from common.db.admin import FailureCount
from common.db.tokens import TokenStatusRow
from common.ebay.marketplaces import site_id_for
from common.windows import WindowPolicy

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SOON = timedelta(days=14)
POLICY = WindowPolicy(
    overlap=timedelta(minutes=10),
    initial_backfill=timedelta(days=90),
    lookback_limit=timedelta(days=730),
    max_window=timedelta(days=7),
    settle_lag=timedelta(minutes=2),
    cadence=timedelta(minutes=5),
)
SECRET = SecretStr("x" * 40)


def token(**overrides: object) -> TokenStatusRow:
    values: dict[str, object] = {
        "account_id": 1,
        "access_token_expires_at": NOW + timedelta(hours=1),
        "refresh_token_expires_at": NOW + timedelta(days=400),
        "last_refresh_at": NOW - timedelta(hours=1),
        "refresh_error": None,
        "scopes": "s",
        "updated_at": NOW,
    }
    values.update(overrides)
    return TokenStatusRow(**values)  # type: ignore[arg-type]


class TestTokenHealth:
    @pytest.mark.parametrize(
        ("row", "needs_reauth", "expected"),
        [
            (token(), False, TokenHealth.HEALTHY),
            (token(access_token_expires_at=NOW - timedelta(minutes=1)), False, TokenHealth.EXPIRED),
            (token(access_token_expires_at=None), False, TokenHealth.EXPIRED),
            (
                token(refresh_token_expires_at=NOW + timedelta(days=3)),
                False,
                TokenHealth.EXPIRING_SOON,
            ),
            (token(refresh_error="invalid_grant"), False, TokenHealth.ERROR),
            (token(), True, TokenHealth.NEEDS_REAUTH),
            (token(refresh_token_expires_at=NOW), False, TokenHealth.NEEDS_REAUTH),
            (None, False, TokenHealth.NEEDS_REAUTH),
        ],
    )
    def test_the_worst_condition_wins(
        self, row: TokenStatusRow | None, needs_reauth: bool, expected: TokenHealth
    ) -> None:
        assert token_verdict(row, needs_reauth, NOW, SOON).status is expected


class TestSecurity:
    def test_roles_are_ordered(self) -> None:
        assert Role.ADMIN.allows(Role.OPERATOR) and Role.OPERATOR.allows(Role.VIEWER)
        assert not Role.VIEWER.allows(Role.OPERATOR)

    def test_a_login_token_round_trips_and_is_no_state(self) -> None:
        login = issue_login_token(SECRET, 7, 3, datetime.now(UTC), timedelta(hours=1))
        claims = read_login_token(SECRET, login)
        assert (claims.user_id, claims.org_id) == (7, 3)
        with pytest.raises(InvalidToken):
            read_state(SECRET, login)

    def test_a_state_round_trips_and_expires(self) -> None:
        state = issue_state(SECRET, "n0nce", datetime.now(UTC) + timedelta(minutes=5))
        assert read_state(SECRET, state) == "n0nce"
        with pytest.raises(InvalidToken):
            read_login_token(SECRET, state)
        expired = issue_state(SECRET, "n0nce", datetime.now(UTC) - timedelta(minutes=5))
        with pytest.raises(InvalidToken, match="expired"):
            read_state(SECRET, expired)


def test_site_ids_follow_the_marketplace() -> None:
    assert (site_id_for("EBAY_US"), site_id_for("EBAY_GB"), site_id_for("EBAY_DE")) == (0, 3, 77)
    assert site_id_for("EBAY_XX") is None


def test_the_challenge_digest_covers_code_token_and_endpoint_in_order() -> None:
    assert challenge_response("a", "b", "c") != challenge_response("c", "b", "a")


@pytest.mark.parametrize(
    "header", ["eyJhbGciOiJyc2EiLCJraWQiOiJrIiwic2lnbmF0dXJlIjoiQUE9PSIsImRpZ2VzdCI6IlNIQTEifQ=="]
)
def test_only_ecdsa_sha1_signatures_are_accepted(header: str) -> None:
    with pytest.raises(BadSignature, match="unsupported"):
        parse_signature_header(header)


class TestWhoSeesADeadLetter:
    def test_its_org_sees_it_whatever_the_role(self) -> None:
        assert may_see(7, {7}, set(), is_superadmin=False)

    def test_another_orgs_letter_is_hidden_even_from_superadmins(self) -> None:
        assert not may_see(8, {7}, {7, 8}, is_superadmin=True)

    def test_superadmins_see_letters_no_org_owns(self) -> None:
        assert may_see(9, {7}, {7, 8}, is_superadmin=True)
        assert may_see(None, {7}, {7, 8}, is_superadmin=True)
        assert not may_see(9, {7}, {7, 8}, is_superadmin=False)
        assert not may_see(None, {7}, {7, 8}, is_superadmin=False)


class TestHardeningDecisions:
    def test_nesting_is_measured_outside_strings_only(self) -> None:
        assert not nesting_exceeds(b'{"a": "[[[[[[[[", "b": [1, [2]]}', 3)
        assert nesting_exceeds(b'{"a": [[1]]}', 2)
        assert not nesting_exceeds(b'{"a": "\\"[[[[["}', 1)

    def test_throttle_waits_for_the_latest_ending_full_window(self) -> None:
        now = datetime(2026, 1, 1, 12, tzinfo=UTC)
        window = timedelta(minutes=15)
        limits = {"email:a": 5, "addr:b": 50}
        full = FailureCount("email:a", now - timedelta(minutes=5), 5)
        assert retry_after([full], limits, now, window) == 600
        assert retry_after([FailureCount("email:a", now, 4)], limits, now, window) is None
        ended = FailureCount("email:a", now - timedelta(minutes=20), 99)
        assert retry_after([ended], limits, now, window) is None
        busy = FailureCount("addr:b", now - timedelta(minutes=1), 50)
        assert retry_after([full, busy], limits, now, window) == 840
