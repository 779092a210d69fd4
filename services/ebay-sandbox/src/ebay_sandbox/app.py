"""FastAPI application factory: ``uvicorn ebay_sandbox.app:create_app --factory``."""

from fastapi import FastAPI

from ebay_sandbox import fulfillment, identity, oauth, sandbox_api
from ebay_sandbox.errors import EbayApiError, OAuthError, ebay_error_handler, oauth_error_handler
from ebay_sandbox.settings import SandboxConfig
from ebay_sandbox.state import Sandbox


def create_app(config: SandboxConfig | None = None) -> FastAPI:
    """Build a sandbox; without ``config`` it is read from ``SANDBOX_*`` environment variables."""
    sandbox = Sandbox(config if config is not None else SandboxConfig())
    app = FastAPI(title="eBay API sandbox", version="0.1.0")
    app.state.sandbox = sandbox
    app.add_exception_handler(EbayApiError, ebay_error_handler)
    app.add_exception_handler(OAuthError, oauth_error_handler)
    for module in (oauth, identity, fulfillment, sandbox_api):
        app.include_router(module.router)
    return app
