"""An authorised API call: its seller, clock reading, pending response fault and caches."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TypeVar, cast

from fastapi import Request
from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

from ebay_sandbox.faults import Endpoint, Fault, FaultKind
from ebay_sandbox.horizon import Horizon
from ebay_sandbox.state import Sandbox, base_url
from ebay_sandbox.trading.xml import MEDIA_TYPE as XML_MEDIA_TYPE
from ebay_sandbox.world.model import Seller
from ebay_sandbox.world.seller import SellerWorld

T = TypeVar("T")
SCOPE_ROOT = "https://api.ebay.com/oauth/api_scope"


def scopes(*names: str) -> frozenset[str]:
    """Full scope URLs from their short names (``""`` is the base scope)."""
    return frozenset(f"{SCOPE_ROOT}/{n}" if n else SCOPE_ROOT for n in names)


class DroppedResponse(Response):
    """Announces the full body, sends half, then stops: the server closes the connection and
    the client sees it dropped mid-response (needs a real server such as uvicorn)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        headers.append((b"content-length", str(len(self.body)).encode()))
        await send({"type": "http.response.start", "status": self.status_code, "headers": headers})
        half = self.body[: len(self.body) // 2]
        await send({"type": "http.response.body", "body": half, "more_body": True})


@dataclass
class Call:
    """An authorised call of one seller, with any response-stage fault still to apply."""

    sandbox: Sandbox
    request: Request
    endpoint: Endpoint
    seller: Seller
    now_ms: int
    fault: Fault | None = None

    @property
    def world(self) -> SellerWorld:
        """The caller's generated world."""
        return self.sandbox.world(self.seller)

    @cached_property
    def base(self) -> str:
        """Scheme and host the caller used (for href/next links): built once per call, though
        the page cache key and every link of the page read it."""
        return base_url(self.request)

    def page_size(self, limit: int) -> int:
        """Items on this page: ``limit``, unless an oversized-page fault inflates it."""
        fault = self.fault
        if fault is not None and fault.kind is FaultKind.OVERSIZED_PAGE:
            return max(limit, fault.page_items)
        return limit

    def cached(self, params: tuple[object, ...], build: Callable[[Horizon], bytes]) -> bytes:
        """A page body, reused while nothing under it has changed (see :class:`Horizon`)."""
        key = (self.endpoint.name, self.seller.index, self.base, self.page_size(0), *params)
        body = self.sandbox.pages.get(key, self.now_ms)
        if body is None:
            horizon = Horizon(self.now_ms)
            body = build(horizon)
            self.sandbox.pages.put(key, self.now_ms, horizon.until_ms, body)
        return body

    def selection(
        self,
        params: tuple[object, ...],
        build: Callable[[Horizon], T],
        into: Horizon | None = None,
    ) -> T:
        """A computed selection shared by the pages of one query, kept while it holds; its
        validity also bounds ``into`` (the horizon of the page being built from it)."""
        key = ("selection", self.endpoint.name, self.seller.index, *params)
        entry = self.sandbox.selections.entry(key, self.now_ms)
        if entry is None:
            horizon = Horizon(self.now_ms)
            value = build(horizon)
            entry = self.sandbox.selections.put(key, self.now_ms, horizon.until_ms, value)
        if into is not None:
            into.change_at(entry.valid_until_ms)
        return cast(T, entry.value)

    def respond(
        self, body: bytes, *, status: int = 200, headers: dict[str, str] | None = None
    ) -> Response:
        """The response, after malformed-body or dropped-connection faults."""
        media = "application/json" if self.endpoint.is_json else XML_MEDIA_TYPE
        kind = self.fault.kind if self.fault is not None else None
        if kind in (FaultKind.MALFORMED_JSON, FaultKind.MALFORMED_XML):
            body = body[: max(1, len(body) // 2)]
        if kind is FaultKind.DROP_CONNECTION:
            return DroppedResponse(body, status_code=status, media_type=media, headers=headers)
        return Response(body, status_code=status, media_type=media, headers=headers)


def name_endpoint(request: Request, endpoint: Endpoint) -> None:
    """Label the request for the statistics."""
    request.state.endpoint = f"{request.method} {endpoint.name}"
