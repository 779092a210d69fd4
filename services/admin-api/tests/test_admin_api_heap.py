"""The admin API runs with the services' tuned garbage collector (common.heap)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from admin_api.app import create_app
from common.heap import YOUNG_THRESHOLD
from testkit.admin import admin_settings


@pytest.fixture
def default_collector() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def test_the_admin_api_runs_with_the_tuned_collector(default_collector: None) -> None:
    create_app(admin_settings("nats://127.0.0.1:1", "postgresql+asyncpg://u:p@127.0.0.1:1/db"))
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
