"""How much memory a fetcher process needs to sync a window: its peak resident set (RSS).

The fetcher runs as it does in production, a separate ``faststream run fetcher.app:create_app
--factory`` process consuming the windows stream, so its RSS is its own (not the test's). The
peak is the kernel's high-water mark ``VmHWM`` from ``/proc/<pid>/status``: exact, and nothing
short-lived between two samples can slip past it.

    async with family_pipeline(..., fetcher_settings=FetcherSettings(nats=..., ...)) as pipeline:
        report = await fetch_in_subprocess(pipeline, pipeline.sellers[0], Family.ORDERS, start)
        print(report.peak_rss_mib)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from nats.js.errors import KeyNotFoundError

from common.families import Family
from common.messages import SyncWindow, Trigger, encoded
from common.streams import BUCKETS, WINDOWS_STREAM
from fetcher.domain import Checkpoint
from fetcher.settings import FetcherSettings
from testkit.pipeline import Pipeline, Seller

MIB = 1024 * 1024


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])  # "VmHWM:    123456 kB"
    raise LookupError(f"no {field} for process {pid}")


def peak_rss_bytes(pid: int) -> int:
    """The highest resident set size process ``pid`` has had so far (Linux ``VmHWM``)."""
    return _status_kib(pid, "VmHWM") * 1024


def rss_bytes(pid: int) -> int:
    """Process ``pid``'s resident set size now (Linux ``VmRSS``)."""
    return _status_kib(pid, "VmRSS") * 1024


@dataclass(frozen=True)
class MemoryReport:
    peak_rss_bytes: int
    # Pages the window was published in.
    pages: int

    @property
    def peak_rss_mib(self) -> float:
        return self.peak_rss_bytes / MIB


def fetcher_env(settings: FetcherSettings) -> dict[str, str]:
    """The environment a fetcher process needs to run with ``settings``' NATS, eBay and sizes."""
    ebay = settings.ebay
    # The fetcher's own plain settings (page sizes, concurrency, ...) as FETCHER_<NAME>.
    own = {
        f"FETCHER_{name.upper()}": str(value)
        for name, value in settings.model_dump().items()
        if isinstance(value, int | float | str)
    }
    return {
        **own,
        "NATS_URL": settings.nats.url,
        "EBAY_API_BASE_URL": ebay.api_base_url,
        "EBAY_APIZ_BASE_URL": ebay.apiz_base_url,
        "EBAY_AUTH_BASE_URL": ebay.auth_base_url,
        "EBAY_CLIENT_ID": ebay.client_id,
        "EBAY_CLIENT_SECRET": ebay.client_secret.get_secret_value(),
        "EBAY_RU_NAME": ebay.ru_name,
        "EBAY_REQUEST_TIMEOUT_SECONDS": str(ebay.request_timeout_seconds),
        "METRICS_PORT": "0",
        "OTEL_LOG_LEVEL": "WARNING",
    }


@dataclass(frozen=True)
class FetcherProcess:
    process: asyncio.subprocess.Process
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.asynccontextmanager
async def fetcher_process(
    settings: FetcherSettings, extra_env: Mapping[str, str] | None = None
) -> AsyncIterator[FetcherProcess]:
    """A fetcher process (as the runtime starts it) for the duration of the block."""
    env = {**os.environ, **fetcher_env(settings), **(extra_env or {})}
    argv = [sys.executable, "-m", "faststream", "run", "fetcher.app:create_app", "--factory"]
    with tempfile.TemporaryDirectory(prefix="fetcher-") as folder:
        log_path = Path(folder) / "fetcher.log"
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                *argv, env=env, stdout=log, stderr=asyncio.subprocess.STDOUT
            )
            try:
                yield FetcherProcess(process, log_path)
            finally:
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
                    try:
                        await asyncio.wait_for(process.wait(), timeout=20)
                    except TimeoutError:
                        process.kill()
                        await process.wait()


async def fetch_in_subprocess(
    pipeline: Pipeline,
    seller: Seller,
    family: Family,
    window_from: datetime | None,
    window_to: datetime | None = None,
    *,
    give_up_after: float = 900.0,
    poll_seconds: float = 0.5,
) -> MemoryReport:
    """Have a fetcher process fetch one window of ``seller`` and report its peak RSS.

    The window goes through the windows stream like any scheduled one; the pages stay on the
    pages stream (no writer runs), so only the fetcher's memory is measured. Raises when the
    process dies or has not finished the window after ``give_up_after`` seconds.
    """
    now = await pipeline.sandbox_now()
    window = SyncWindow(
        run_id=uuid.uuid4(),
        account_id=seller.account_id,
        family=family,
        window_from=window_from,
        window_to=window_to or now,
        trigger=Trigger.MANUAL,
        issued_at=now,
    )
    checkpoints = await pipeline.broker.key_value(BUCKETS.checkpoints.bucket, declare=False)
    async with fetcher_process(pipeline.fetcher_settings) as fetcher:
        await pipeline.broker.publish(
            encoded(window),
            window.subject,
            stream=WINDOWS_STREAM,
            headers={"Nats-Msg-Id": window.message_id, "content-type": "application/json"},
            timeout=10,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + give_up_after
        while True:
            if fetcher.process.returncode is not None:
                raise RuntimeError(f"the fetcher exited early:\n{fetcher.log_tail()}")
            try:
                entry = await checkpoints.get(str(window.run_id))
                checkpoint = Checkpoint.model_validate_json(entry.value or b"{}")
            except KeyNotFoundError:
                checkpoint = Checkpoint()
            if checkpoint.done:
                return MemoryReport(peak_rss_bytes(fetcher.pid), checkpoint.next_page_no - 1)
            if loop.time() > deadline:
                raise TimeoutError(f"window not fetched in {give_up_after}s:\n{fetcher.log_tail()}")
            await asyncio.sleep(poll_seconds)
