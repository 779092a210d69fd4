"""Every service collects young garbage less often than CPython's default (common.heap)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from common.heap import YOUNG_THRESHOLD, tune_collector
from common.service import ServiceBaseSettings, build_service

DEFAULT = (700, 10, 10)


@pytest.fixture
def default_collector() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(*DEFAULT)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def test_young_collections_are_rarer_and_the_older_generations_are_left_alone(
    default_collector: None,
) -> None:
    gc.set_threshold(700, 7, 3)
    tune_collector()
    assert gc.get_threshold() == (YOUNG_THRESHOLD, 7, 3)
    assert DEFAULT[0] < YOUNG_THRESHOLD


def test_a_built_service_runs_with_the_tuned_collector(default_collector: None) -> None:
    build_service("heap-test", ServiceBaseSettings())
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
