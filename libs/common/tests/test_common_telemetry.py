"""Telemetry's cost switches: statement spans only when asked for, sampling from OTEL_*."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg  # type: ignore[import-untyped, unused-ignore]
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from common.metrics import MetricsSettings
from common.service import build_service
from common.settings import NatsSettings
from common.telemetry import TelemetrySettings, build_tracer_provider


@dataclass(frozen=True)
class Settings:
    nats: NatsSettings
    telemetry: TelemetrySettings
    metrics: MetricsSettings = field(default_factory=lambda: MetricsSettings(port=0))
    heartbeat_seconds: float = 60.0


def sql_spans(exporter: InMemorySpanExporter) -> list[str]:
    return [
        s.name
        for s in exporter.get_finished_spans()
        if s.attributes and s.attributes.get("db.system") == "postgresql"
    ]


@pytest.mark.nats
@pytest.mark.postgres
@pytest.mark.parametrize("trace_sql", [False, True])
async def test_statement_spans_only_when_the_setting_asks_for_them(
    nats_url: str, migrated_database_url: str, trace_sql: bool
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    settings = Settings(
        nats=NatsSettings(url=nats_url, declare_topology=False),
        telemetry=TelemetrySettings(trace_sql=trace_sql),
    )
    service = build_service("telemetry-test", settings, provider, traces_sql=True)
    await service.app.start()
    try:
        dsn = migrated_database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
        connection = await asyncpg.connect(dsn)
        try:
            with provider.get_tracer("test").start_as_current_span("page"):
                assert await connection.fetchval("SELECT 1") == 1
        finally:
            await connection.close()
    finally:
        await service.app.stop()
    spans = sql_spans(exporter)
    assert bool(spans) is trace_sql, spans
    assert "page" in [s.name for s in exporter.get_finished_spans()]


def test_the_setting_is_off_by_default() -> None:
    assert TelemetrySettings().trace_sql is False
    assert TelemetrySettings.model_validate({"trace_sql": "true"}).trace_sql is True


def sampled_root_and_child(provider: TracerProvider) -> tuple[bool, bool]:
    """Whether a new root span is sampled, and a span under a sampled remote parent (a page
    under its window's trace)."""
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("root") as root:
        root_sampled = root.get_span_context().trace_flags.sampled
    parent = SpanContext(
        trace_id=0x1234, span_id=0x99, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED)
    )
    context = trace.set_span_in_context(NonRecordingSpan(parent))
    with tracer.start_as_current_span("page", context=context) as child:
        child_sampled = child.get_span_context().trace_flags.sampled
    return root_sampled, child_sampled


def test_sampling_is_parent_based_and_always_on_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    monkeypatch.delenv("OTEL_TRACES_SAMPLER_ARG", raising=False)
    provider = build_tracer_provider("test", TelemetrySettings())
    assert sampled_root_and_child(provider) == (True, True)


def test_a_sampled_window_keeps_its_pages_whatever_the_ratio(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0")
    provider = build_tracer_provider("test", TelemetrySettings())
    # No new window is sampled at ratio 0, but a page of a sampled one is.
    assert sampled_root_and_child(provider) == (False, True)


def test_an_unsampled_span_still_names_its_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run records its trace id whether or not its trace is kept (invariant 7)."""
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    provider = build_tracer_provider("test", TelemetrySettings())
    with provider.get_tracer("test").start_as_current_span("window") as span:
        assert not span.is_recording()
        assert span.get_span_context().is_valid
