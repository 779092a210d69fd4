"""The freshness bench's pure part: which mirror write first carried a source change, and the
percentiles of change -> commit latency, with the changes not yet committed counted as later
than everything (censored), so a p99 is never computed over only the fast ones."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# The one family whose rows change after they appear (lastModifiedDate moves with each event);
# the others are measured at their creation: a message arriving, a return opened, a listing
# started (bench_freshness's docstring).
VERSIONED_FIELD = "lastModifiedDate"
# Trading's Sent folder: the seller's own replies. eBay notifies a seller of messages received
# (MyMessages*, NEW_MESSAGE), not of the replies they send, so a reply is no change push is
# measured on (polling brings it).
SENT_FOLDER = "1"


def received_message(record: Mapping[str, Any]) -> bool:
    """Whether a GetMyMessages record is a message the seller received (not in Sent)."""
    folder = record.get("Folder")
    return not (isinstance(folder, Mapping) and str(folder.get("FolderID")) == SENT_FOLDER)


@dataclass(frozen=True)
class Change:
    """One change at the source: ``key`` of ``family`` reached ``version`` at ``at``."""

    family: str
    account_id: int
    key: str
    at: datetime
    # The version the change made (orders: its lastModifiedDate); None: the entity's creation.
    version: datetime | None = None


@dataclass(frozen=True)
class Write:
    """One history event the writer recorded (``ebay_events``), in id order per entity."""

    change_kind: str  # created | changed | ended
    occurred_at: datetime
    # ``changes`` of a changed event: {field: {"old": ..., "new": ...}}.
    changes: Mapping[str, Any] | None


def parse_instant(value: object) -> datetime | None:
    """An ISO-8601 instant as eBay writes it (``...Z``), or None."""
    if not isinstance(value, str):
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def write_versions(writes: Sequence[Write], current: datetime | None) -> list[datetime | None]:
    """The version each write left in the row. A changed write names its new lastModifiedDate
    (or left it as it was); a created write stored the version that the next write changing it
    names as old, or the row's ``current`` one when none did."""
    versions: list[datetime | None] = [None] * len(writes)
    later = current
    for i in range(len(writes) - 1, -1, -1):
        change = (writes[i].changes or {}).get(VERSIONED_FIELD)
        if isinstance(change, Mapping):
            versions[i] = parse_instant(change.get("new"))
            later = parse_instant(change.get("old"))
        else:
            versions[i] = later
    return versions


def committed_at(
    change: Change, writes: Sequence[Write], current: datetime | None
) -> datetime | None:
    """When the mirror first held ``change``: the first write of the entity whose version is at
    least the change's (any write, for a creation); None if none did yet."""
    if change.version is None:
        return next((w.occurred_at for w in writes if w.change_kind != "ended"), None)
    versions = write_versions(writes, current)
    for write, version in zip(writes, versions, strict=True):
        if version is not None and version >= change.version:
            return write.occurred_at
    return None


def latencies(
    changes: Iterable[Change],
    writes_of: Callable[[Change], Sequence[Write]],
    current_of: Callable[[Change], datetime | None],
) -> dict[str, list[float | None]]:
    """Per family: each change's latency in seconds (None: not committed yet)."""
    found: dict[str, list[float | None]] = {}
    for change in changes:
        done = committed_at(change, writes_of(change), current_of(change))
        seconds = None if done is None else max(0.0, (done - change.at).total_seconds())
        found.setdefault(change.family, []).append(seconds)
    return found


def censored_percentile(values: Sequence[float | None], share: float) -> float | None:
    """The ``share`` percentile (nearest rank) with None (not committed) sorted last; None if
    that rank falls on an uncommitted change or there are no values."""
    if not values:
        return None
    ordered = sorted(v for v in values if v is not None) + [None] * sum(v is None for v in values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def summary(values: Sequence[float | None]) -> dict[str, Any]:
    """A family's figures: changes, committed, p50, p99, max (seconds, 2 decimals)."""
    committed = [v for v in values if v is not None]

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    return {
        "changes": len(values),
        "committed": len(committed),
        "p50_seconds": rounded(censored_percentile(values, 0.5)),
        "p99_seconds": rounded(censored_percentile(values, 0.99)),
        "max_committed_seconds": rounded(max(committed, default=None)),
    }


def figures(found: Mapping[str, Sequence[float | None]]) -> dict[str, Any]:
    """Per family and over all families."""
    table = {family: summary(values) for family, values in sorted(found.items())}
    table["all"] = summary([v for values in found.values() for v in values])
    return table


def report_lines(result: Mapping[str, Any]) -> list[str]:
    """The printed table: per mode and family, p50/p99 (">drain" where censored)."""
    lines = [f"{'mode':12} {'family':17} {'changes':>7} {'committed':>9} {'p50 s':>8} {'p99 s':>8}"]
    for mode, run in result["modes"].items():
        late = f">{run['drain_seconds']:g}s"  # not committed: later than the drain at least
        for family, row in run["families"].items():
            p50, p99 = (
                late if v is None else f"{v:.2f}" for v in (row["p50_seconds"], row["p99_seconds"])
            )
            lines.append(
                f"{mode:12} {family:17} {row['changes']:7} {row['committed']:9} {p50:>8} {p99:>8}"
            )
    return lines
