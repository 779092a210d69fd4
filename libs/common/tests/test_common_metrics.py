"""Every metric has bounded labels, and the Grafana dashboard only queries metrics that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

import common.metrics  # noqa: F401  (registers the metrics)

DASHBOARD = Path(__file__).resolve().parents[3] / "deploy" / "grafana" / "ebaysync.json"
UNBOUNDED = {"account", "account_id", "run", "run_id", "order_id", "user"}


def ebaysync_metrics() -> dict[str, set[str]]:
    labels: dict[str, set[str]] = {}
    for metric in REGISTRY.collect():
        if metric.name.startswith("ebaysync_"):
            names: set[str] = set()
            for sample in metric.samples:
                names |= set(sample.labels) - {"le"}
            labels[metric.name] = names
    return labels


def test_no_metric_is_labelled_by_account_or_run() -> None:
    from common.metrics import CONSUMER_PENDING, LAG, PAGES

    # Touch a few so their label sets show up in samples.
    PAGES.labels("orders", "written").inc(0)
    LAG.labels("orders").observe(0)
    CONSUMER_PENDING.labels("SYNC_PAGES", "writer").set(0)
    for name, labels in ebaysync_metrics().items():
        assert not labels & UNBOUNDED, name


def test_the_dashboard_queries_only_metrics_that_exist() -> None:
    known = {name.removesuffix("_total") for name in ebaysync_metrics()}
    queried = set()
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel["targets"]:
            queried |= set(re.findall(r"ebaysync_[a-z_]+", target["expr"]))
    assert queried
    for name in queried:
        base = re.sub(r"_(total|bucket|sum|count)$", "", name)
        assert base in known, name
