"""FastAPI application factory: ``uvicorn ebay_sandbox.app:create_app --factory``.

One process serves both eBay hosts: clients point their ``api`` and ``apiz`` base URLs at it.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ebay_sandbox import analytics, control, identity, keys, oauth, truth
from ebay_sandbox.errors import (
    EbayApiError,
    OAuthError,
    PostOrderError,
    ebay_error_handler,
    oauth_error_handler,
    post_order_error_handler,
)
from ebay_sandbox.finances import api as finances
from ebay_sandbox.fulfillment import api as fulfillment
from ebay_sandbox.fulfillment import disputes
from ebay_sandbox.inventory import api as inventory
from ebay_sandbox.notifications import api as notification
from ebay_sandbox.notifications import control as notification_control
from ebay_sandbox.postorder import api as post_order
from ebay_sandbox.request_ids import RequestIdMiddleware
from ebay_sandbox.settings import SandboxConfig
from ebay_sandbox.state import Sandbox
from ebay_sandbox.stats import StatsMiddleware
from ebay_sandbox.trading import api as trading
from ebay_sandbox.trading.errors import TradingError, trading_error_handler


def create_app(config: SandboxConfig | None = None) -> FastAPI:
    """Build a sandbox; without ``config`` it is read from ``SANDBOX_*`` environment variables."""
    sandbox = Sandbox(config if config is not None else SandboxConfig())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The push sender runs while the server does (in-process ASGI clients send nothing).
        await sandbox.push.start()
        try:
            yield
        finally:
            await sandbox.push.stop()

    app = FastAPI(title="eBay API sandbox", version="0.2.0", lifespan=lifespan)
    app.state.sandbox = sandbox
    app.add_exception_handler(EbayApiError, ebay_error_handler)
    app.add_exception_handler(OAuthError, oauth_error_handler)
    app.add_exception_handler(PostOrderError, post_order_error_handler)
    app.add_exception_handler(TradingError, trading_error_handler)
    # Routes are tried in order: the APIs every run calls first, Trading (one route, a third of
    # all calls) ahead. Their paths do not overlap; control's /sandbox/sellers stays ahead of
    # truth's /sandbox/sellers/{username}/{family}.
    routers = (trading, fulfillment, disputes, finances, inventory, post_order, oauth, identity)
    for module in (*routers, keys, analytics, notification, control, notification_control, truth):
        app.include_router(module.router)
    app.add_middleware(StatsMiddleware, stats=sandbox.stats)
    app.add_middleware(RequestIdMiddleware)
    return app
