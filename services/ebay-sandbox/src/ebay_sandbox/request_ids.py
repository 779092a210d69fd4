"""eBay's request ids: every answer names itself for eBay support.

REST and Trading answers carry ``X-EBAY-C-REQUEST-ID`` (contracts §9) and the older ``rlogid``
log id; failed Trading answers also carry a ``CorrelationID`` element (the envelope, §2).
"""

import itertools
import os

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_counter = itertools.count(1)
_PROCESS = os.urandom(4).hex()


def next_request_id() -> str:
    """A request id unique within this sandbox process (eBay's are opaque strings too)."""
    return f"{_PROCESS}-{next(_counter):010d}"


def rlogid_of(request_id: str) -> str:
    """The ``rlogid`` header value eBay pairs with a request (opaque; ours embeds the id)."""
    return f"t6n%60%7Eb{request_id}"


class RequestIdMiddleware:
    """Adds both headers to every response (pure ASGI: dropped connections stay dropped)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = next_request_id()
        scope.setdefault("state", {})["request_id"] = request_id

        async def stamp(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-ebay-c-request-id", request_id.encode()))
                headers.append((b"rlogid", rlogid_of(request_id).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, stamp)
