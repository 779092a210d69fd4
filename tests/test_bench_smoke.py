"""``make bench`` runs: a tiny bench produces the three throughputs (no timing is asserted)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from nats.js import JetStreamContext

from testkit.servers import DatabaseServer

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[1]


def load_bench() -> ModuleType:
    path = ROOT / "scripts" / "bench_writer.py"
    spec = importlib.util.spec_from_file_location("ebaysync_bench_writer", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Its dataclasses look their module up by name.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


async def test_a_tiny_bench_reports_pipeline_naive_and_bulk_rows_per_second(
    nats_url: str, database_server: DatabaseServer, topology: JetStreamContext, tmp_path: Path
) -> None:
    bench = load_bench()
    database_url = await database_server.acreate_database(prefix="bench_smoke")
    printed: list[str] = []
    out = tmp_path / "bench.json"
    result = await bench.run_bench(
        nats_url,
        database_url,
        orders=24,
        page_size=5,
        writers=2,
        listings=450,
        out=out,
        say=printed.append,
    )
    assert json.loads(out.read_text()) == result
    # The fetcher's memory was measured on a real process paging the seller's listings.
    assert result["fetcher_peak_rss"]["pages"] >= 3
    assert result["fetcher_peak_rss"]["peak_rss_mib"] > 20
    for name in ("insert", "update"):
        numbers = result["rows_per_second"][name]
        assert all(numbers[k] > 0 for k in ("pipeline", "naive", "bulk")), numbers
        assert numbers["pipeline_vs_naive"] == numbers["pipeline"] / numbers["naive"]
        assert numbers["pipeline_vs_bulk"] == numbers["pipeline"] / numbers["bulk"]
    assert any("pipeline/naive" in line for line in printed)
    assert any("fetcher peak RSS" in line for line in printed)
