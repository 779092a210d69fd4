"""One tracer provider per process, traced messages, and structured logs with trace ids.

Every message has a trace context, so every run can store its trace id; spans are exported only
when the standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is
set and ``OTEL_SDK_DISABLED`` is not true, through a :class:`BatchSpanProcessor` (a background
thread; nothing on the hot path waits for an export). Which traces are kept is the standard
``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG`` (the SDK's default: ``parentbased_always_on``;
parent-based, so a window's root decides for every page of it, whichever service writes them).

The hot path costs a few spans per message: publish and process. A span per SQL statement is off
unless ``<SERVICE>_TELEMETRY__TRACE_SQL`` is true (:attr:`TelemetrySettings.trace_sql`) —
worth it while
chasing a slow query, not on every page of every window.

Span names and metric labels never carry an account id (their cardinality must not grow with the
number of sellers): subjects are named with ``{account}`` in place of the id, which goes into the
``ebaysync.account_id`` attribute instead.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from faststream.nats.opentelemetry.provider import (
    NatsBatchTelemetrySettingsProvider,
    NatsTelemetrySettingsProvider,
)
from faststream.nats.response import NatsPublishCommand
from faststream.opentelemetry.consts import MESSAGING_DESTINATION_PUBLISH_NAME
from faststream.opentelemetry.middleware import TelemetryMiddleware
from nats.aio.msg import Msg
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.semconv.trace import SpanAttributes
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from faststream.message import StreamMessage

    from common.messages import RunMessage

ACCOUNT_ATTRIBUTE = "ebaysync.account_id"
FAMILY_ATTRIBUTE = "ebaysync.family"
RUN_ATTRIBUTE = "ebaysync.run_id"
PAGE_ATTRIBUTE = "ebaysync.page_no"
EBAY_REQUEST_ID_ATTRIBUTE = "ebay.request_id"
ACCOUNT_PLACEHOLDER = "{account}"


class TelemetrySettings(BaseSettings):
    """The subset of the standard OTEL_* variables that decides whether to export, and ours."""

    model_config = SettingsConfigDict(env_prefix="OTEL_", extra="ignore", populate_by_name=True)

    sdk_disabled: bool = False
    exporter_otlp_endpoint: str | None = None
    exporter_otlp_traces_endpoint: str | None = None
    log_format: str = Field(default="json", pattern="^(json|text)$")
    log_level: str = "INFO"
    # A span per SQL statement (asyncpg instrumented) in the services that use the database;
    # not an OTEL_* variable, because it is ours.
    trace_sql: bool = False

    @property
    def exports(self) -> bool:
        endpoint = self.exporter_otlp_traces_endpoint or self.exporter_otlp_endpoint
        return not self.sdk_disabled and bool(endpoint)


def telemetry_settings() -> TelemetrySettings:
    return TelemetrySettings()


TelemetryField = Field(default_factory=telemetry_settings)


def build_tracer_provider(service_name: str, settings: TelemetrySettings) -> TracerProvider:
    """A tracer provider for this process; the OTLP exporter reads its own OTEL_* variables,
    the provider its sampler (``OTEL_TRACES_SAMPLER``, ``OTEL_TRACES_SAMPLER_ARG``)."""
    # No sampler argument: the SDK reads OTEL_TRACES_SAMPLER (default parentbased_always_on).
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    if settings.exports:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def generic_subject(subject: str) -> tuple[str, str | None]:
    """``sync.page.orders.42`` as ``("sync.page.orders.{account}", "42")``.

    Reply inboxes are unique per request, so they are named ``_INBOX.{reply}``.
    """
    if subject.startswith("_INBOX."):
        return "_INBOX.{reply}", None
    head, _, last = subject.rpartition(".")
    if head and last.isdigit():
        return f"{head}.{ACCOUNT_PLACEHOLDER}", last
    return subject, None


class _AccountFreeProvider(NatsTelemetrySettingsProvider):
    """FastStream's NATS telemetry with the account id moved from names to an attribute."""

    def get_publish_destination_name(self, cmd: NatsPublishCommand) -> str:  # type: ignore[override]
        return generic_subject(cmd.destination)[0]

    def get_consume_destination_name(self, msg: StreamMessage[Msg]) -> str:
        return generic_subject(msg.raw_message.subject)[0]

    def get_publish_attrs_from_cmd(self, cmd: NatsPublishCommand) -> dict[str, Any]:  # type: ignore[override]
        name, account = generic_subject(cmd.destination)
        attrs = super().get_publish_attrs_from_cmd(cmd)
        attrs[SpanAttributes.MESSAGING_DESTINATION_NAME] = name
        if account is not None:
            attrs[ACCOUNT_ATTRIBUTE] = int(account)
        return attrs

    def get_consume_attrs_from_message(self, msg: StreamMessage[Msg]) -> dict[str, Any]:
        name, account = generic_subject(msg.raw_message.subject)
        attrs = super().get_consume_attrs_from_message(msg)
        attrs[MESSAGING_DESTINATION_PUBLISH_NAME] = name
        if account is not None:
            attrs[ACCOUNT_ATTRIBUTE] = int(account)
        return attrs


def _provider_for(
    msg: Msg | Sequence[Msg] | None,
) -> NatsTelemetrySettingsProvider | NatsBatchTelemetrySettingsProvider | None:
    if isinstance(msg, Sequence):
        return NatsBatchTelemetrySettingsProvider()
    if isinstance(msg, Msg) or msg is None:
        return _AccountFreeProvider()
    return None  # KV and object-store watchers are not traced


def telemetry_middleware(tracer_provider: TracerProvider) -> TelemetryMiddleware[Any]:
    """FastStream's tracing of every publish and every processed message (W3C headers)."""
    return TelemetryMiddleware(
        settings_provider_factory=_provider_for, tracer_provider=tracer_provider
    )


def instrument_asyncpg(tracer_provider: TracerProvider) -> Callable[[], None]:
    """Trace every SQL statement (asyncpg is patched process-wide); returns the undo."""
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    instrumentor = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
    if instrumentor.is_instrumented_by_opentelemetry:
        return lambda: None
    instrumentor.instrument(tracer_provider=tracer_provider)

    def undo() -> None:
        instrumentor.uninstrument()

    return undo


def annotate_run(run: RunMessage, page_no: int | None = None) -> None:
    """Name the run on the current span, so a trace can be found by account or run."""
    span = trace.get_current_span()
    span.set_attribute(ACCOUNT_ATTRIBUTE, run.account_id)
    span.set_attribute(FAMILY_ATTRIBUTE, str(run.family))
    span.set_attribute(RUN_ATTRIBUTE, str(run.run_id))
    if page_no is not None:
        span.set_attribute(PAGE_ATTRIBUTE, page_no)


def annotate_ebay_failure(request_id: str | None, message: str) -> None:
    """Keep a failed eBay call's request id on the current span (eBay support asks for it)."""
    if request_id is None:
        return
    span = trace.get_current_span()
    span.set_attribute(EBAY_REQUEST_ID_ATTRIBUTE, request_id)
    span.add_event("ebay.call_failed", {EBAY_REQUEST_ID_ATTRIBUTE: request_id, "message": message})


def current_trace_id() -> str | None:
    """The current span's trace id as 32 hex digits, or None outside a recorded span."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


# eBay OAuth tokens (``v^1.1#i^1#…``) and credentials in Authorization-style text.
_SECRET_PATTERNS = (
    re.compile(r"v\^1\.1#[^\s\"',}]+"),
    re.compile(r"(?i)\b(Bearer|IAF|Basic)\s+[A-Za-z0-9._~+/=^#-]{8,}"),
)


def redact(text: str) -> str:
    """Text with anything that looks like a token replaced: defence in depth for log lines."""
    text = _SECRET_PATTERNS[0].sub("[redacted]", text)
    return _SECRET_PATTERNS[1].sub(lambda m: f"{m.group(1)} [redacted]", text)


class RedactingFilter(logging.Filter):
    """Redacts tokens from every record before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the trace id when a span is active."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if trace_id := current_trace_id():
            entry["trace_id"] = trace_id
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def configure_logging(service: str, settings: TelemetrySettings) -> None:
    """Add this service's log handler to the root logger (once; other handlers stay)."""
    root = logging.getLogger()
    root.setLevel(settings.log_level.upper())
    # httpx logs every request URL at INFO; URLs are not secret, but they are noise.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if any(getattr(h, "ebaysync", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {service} %(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter())
    handler.ebaysync = True  # type: ignore[attr-defined]
    root.addHandler(handler)
