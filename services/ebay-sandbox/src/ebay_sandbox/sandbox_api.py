"""Sandbox-only control endpoints: clock, ground truth and fault injection."""

from datetime import datetime

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import AwareDatetime, BaseModel, Field

from ebay_sandbox.clock import iso_ms, to_ms
from ebay_sandbox.faults import FaultRequest
from ebay_sandbox.model import Seller
from ebay_sandbox.query import OrderFilter, Range, select_orders
from ebay_sandbox.state import Sandbox, SandboxDep, base_url

router = APIRouter(prefix="/sandbox")


class AdvanceRequest(BaseModel):
    """Body of ``POST /sandbox/clock/advance``."""

    seconds: float = Field(ge=0)


def _clock_body(sandbox: Sandbox) -> dict[str, str]:
    return {"now": iso_ms(sandbox.clock.now_ms())}


@router.get("/clock")
async def get_clock(sandbox: SandboxDep) -> dict[str, str]:
    """Current sandbox time."""
    return _clock_body(sandbox)


@router.post("/clock/advance")
async def advance_clock(body: AdvanceRequest, sandbox: SandboxDep) -> dict[str, str]:
    """Move sandbox time forward."""
    sandbox.clock.advance(body.seconds)
    return _clock_body(sandbox)


def _seller_or_404(sandbox: Sandbox, username: str) -> Seller:
    seller = sandbox.seller(username)
    if seller is None:
        raise HTTPException(404, f"unknown seller {username!r}")
    return seller


@router.get("/sellers")
async def list_sellers(sandbox: SandboxDep) -> list[dict[str, str]]:
    """All simulated sellers."""
    return [
        {"userId": s.user_id, "username": s.username, "marketplaceId": s.marketplace_id}
        for s in sandbox.sellers
    ]


def _ms(moment: datetime | None, *, round_up: bool = False) -> int | None:
    # Same rounding as the API filter: sub-millisecond parts round towards the inside.
    if moment is None:
        return None
    return to_ms(moment) + (1 if round_up and moment.microsecond % 1000 else 0)


@router.get("/sellers/{username}/orders")
async def seller_orders(
    username: str,
    request: Request,
    sandbox: SandboxDep,
    modified_from: AwareDatetime | None = None,
    modified_to: AwareDatetime | None = None,
) -> Response:
    """Ground truth: every order getOrders could return now (getOrders form, no paging)."""
    seller = _seller_or_404(sandbox, username)
    now_ms = sandbox.clock.now_ms()
    # An open range still counts as a date filter, so the 90-day default window does not apply.
    flt = OrderFilter(modified=Range(_ms(modified_from, round_up=True), _ms(modified_to)))
    selected = select_orders(sandbox.stream(seller), flt, now_ms)
    base = base_url(request)
    body = b'{"orders":[' + b",".join(v.to_json(n, base) for v, n in selected) + b"]}"
    return Response(body, media_type="application/json")


@router.post("/faults")
async def add_fault(body: FaultRequest, sandbox: SandboxDep) -> dict[str, object]:
    """Make the next ``count`` API calls of a seller fail."""
    _seller_or_404(sandbox, body.username)
    sandbox.faults.add(body.username, body.kind, body.count, body.retry_after)
    return {"username": body.username, "pending": sandbox.faults.pending(body.username)}


@router.delete("/faults")
async def clear_faults(sandbox: SandboxDep, username: str | None = None) -> dict[str, bool]:
    """Drop pending faults (of one seller with ``?username=``)."""
    sandbox.faults.clear(username)
    return {"cleared": True}
