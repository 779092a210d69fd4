"""What the writer refuses before writing: pure rules (docs/adr/0008)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from common.db.accounts import EbayAccount
from common.families import Family
from testkit.ebay_samples import make_order
from testkit.pages import single_page
from writer.validation import account_refusal, future_refusal

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
SKEW = timedelta(minutes=5)


class TestFuture:
    def test_a_page_up_to_now_plus_the_skew_passes(self) -> None:
        page = single_page(
            7, [make_order("11-1", modified=NOW + SKEW)], window_from=NOW, window_to=NOW + SKEW
        )
        assert future_refusal(page, NOW, SKEW) is None

    def test_a_window_beyond_is_refused(self) -> None:
        page = single_page(7, [], window_from=NOW, window_to=datetime(2099, 1, 1, tzinfo=UTC))
        refusal = future_refusal(page, NOW, SKEW)
        assert refusal is not None and refusal.startswith(
            "window_to 2099-01-01T00:00:00+00:00 lies beyond now + 0:05:00"
        )

    def test_a_record_version_beyond_is_refused_naming_the_record(self) -> None:
        page = single_page(
            7,
            [make_order("11-1", modified=NOW), make_order("11-2", modified=NOW + 2 * SKEW)],
            window_from=NOW - timedelta(hours=1),
            window_to=NOW,
        )
        refusal = future_refusal(page, NOW, SKEW)
        assert refusal is not None
        assert refusal.startswith("ebay_orders 11-2: last_modified_date 2026-12-01T12:10:00")

    def test_a_family_without_a_version_is_bounded_by_its_window_only(self) -> None:
        # A payout dated ahead freezes nothing: only versions and the cursor are forward-only.
        page = single_page(
            7,
            [{"payoutId": "P1", "payoutDate": "2099-01-01T00:00:00.000Z"}],
            Family.FINANCES,
            window_from=NOW - timedelta(hours=1),
            window_to=NOW,
        )
        assert future_refusal(page, NOW, SKEW) is None


class TestAccount:
    def test_an_active_account_passes(self) -> None:
        assert account_refusal(7, EbayAccount(id=7, active=True)) is None

    def test_an_unknown_account_is_refused(self) -> None:
        assert account_refusal(7, None) == "account 7 does not exist"

    def test_a_deactivated_account_is_refused(self) -> None:
        assert account_refusal(7, EbayAccount(id=7, active=False)) == "account 7 is deactivated"
