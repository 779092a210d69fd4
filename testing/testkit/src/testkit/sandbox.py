"""The eBay sandbox served over real HTTP on loopback, inside the test's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from embedded_servers import find_free_port

from ebay_sandbox.app import create_app
from ebay_sandbox.settings import SandboxConfig
from testkit.waiting import stop_within


@asynccontextmanager
async def serve_asgi(app: Any, *, port: int | None = None) -> AsyncIterator[str]:
    """Serve an ASGI app on loopback, on ``port`` or a free one; yields its base URL."""
    port = port or find_free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task  # raises what stopped it
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        # Open streams would keep a graceful shutdown waiting; the wait is bounded.
        await stop_within(task, within=30, what="an ASGI server of the test")


@asynccontextmanager
async def serve_sandbox(config: SandboxConfig) -> AsyncIterator[str]:
    """Serve a sandbox with ``config``; yields its base URL."""
    async with serve_asgi(create_app(config)) as url:
        yield url
