"""The freshness bench's pure part (``scripts/freshness_figures.py``): which write first carried a
change, and percentiles that count uncommitted changes as the slowest."""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "ebaysync_freshness_figures", ROOT / "scripts/freshness_figures.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


F = load()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def iso(seconds: float) -> str:
    return at(seconds).isoformat().replace("+00:00", "Z")


def changed(seconds: float, old: float, new: float) -> object:
    return F.Write("changed", at(seconds), {"lastModifiedDate": {"old": iso(old), "new": iso(new)}})


def test_an_order_change_is_committed_by_the_first_write_holding_its_version() -> None:
    # Created holding version 0 (the next write names it as old), then 10, then 20.
    writes = [F.Write("created", at(1), None), changed(12, 0, 10), changed(25, 10, 20)]
    assert F.committed_at(F.Change("orders", 1, "o", at(0), at(0)), writes, at(20)) == at(1)
    # A write after the change but holding an older version does not count.
    assert F.committed_at(F.Change("orders", 1, "o", at(10), at(10)), writes, at(20)) == at(12)
    assert F.committed_at(F.Change("orders", 1, "o", at(20), at(20)), writes, at(20)) == at(25)
    assert F.committed_at(F.Change("orders", 1, "o", at(30), at(30)), writes, at(20)) is None


def test_a_created_write_alone_holds_the_rows_current_version() -> None:
    writes = [F.Write("created", at(5), None)]
    assert F.write_versions(writes, at(3)) == [at(3)]
    assert F.committed_at(F.Change("orders", 1, "o", at(3), at(3)), writes, at(3)) == at(5)
    assert F.committed_at(F.Change("orders", 1, "o", at(4), at(4)), writes, at(3)) is None


def test_a_creation_is_committed_by_the_entitys_first_write() -> None:
    writes = [F.Write("created", at(7), None), F.Write("ended", at(9), None)]
    assert F.committed_at(F.Change("messages", 1, "m", at(2)), writes, None) == at(7)
    assert F.committed_at(F.Change("messages", 1, "m", at(2)), [], None) is None


def test_uncommitted_changes_sort_last_in_the_percentiles() -> None:
    values = [4.0, 1.0, None, 3.0, 2.0]
    assert F.censored_percentile(values, 0.5) == 3.0
    assert F.censored_percentile(values, 0.99) is None
    assert F.censored_percentile([], 0.5) is None
    row = F.summary(values)
    assert row == {
        "changes": 5,
        "committed": 4,
        "p50_seconds": 3.0,
        "p99_seconds": None,
        "max_committed_seconds": 4.0,
    }


def test_latencies_per_family_and_the_report() -> None:
    changes = [F.Change("messages", 1, "a", at(0)), F.Change("messages", 1, "b", at(0))]
    writes = {"a": [F.Write("created", at(1.5), None)], "b": []}
    found = F.latencies(changes, lambda c: writes[c.key], lambda c: None)
    assert found == {"messages": [1.5, None]}
    table = F.figures(found)
    assert table["all"]["changes"] == 2 and table["messages"]["committed"] == 1
    lines = F.report_lines({"modes": {"push": {"drain_seconds": 30.0, "families": table}}})
    assert lines[1].split() == ["push", "messages", "2", "1", "1.50", ">30s"]


def test_a_reply_the_seller_sent_is_no_received_message() -> None:
    assert F.received_message({"MessageID": "1", "Folder": {"FolderID": "0"}})
    assert F.received_message({"MessageID": "2", "Folder": {"FolderID": "7", "FolderName": "x"}})
    assert F.received_message({"MessageID": "3"})
    assert not F.received_message({"MessageID": "4", "Folder": {"FolderID": "1"}})
