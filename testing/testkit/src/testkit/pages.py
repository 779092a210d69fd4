"""Page batches as the fetcher publishes them, for tests that drive the writer directly."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from common.families import Family
from common.messages import PageBatch, Trigger

WINDOW_FROM = datetime(2026, 11, 1, tzinfo=UTC)


def single_page(
    account_id: int,
    records: list[dict[str, Any]],
    family: Family = Family.ORDERS,
    *,
    window_from: datetime = WINDOW_FROM,
    window_to: datetime = WINDOW_FROM + timedelta(days=1),
) -> PageBatch:
    """The only page of a new run's window: writing it completes the run."""
    return PageBatch(
        run_id=uuid.uuid4(),
        account_id=account_id,
        family=family,
        window_from=window_from,
        window_to=window_to,
        trigger=Trigger.SCHEDULE,
        page_no=1,
        page_count=1,
        fetched_at=datetime.now(UTC),
        records=records,
    )
