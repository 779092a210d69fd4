"""Sandbox-only control endpoints: clock, sellers, fault injection and statistics."""

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from ebay_sandbox.clock import iso_ms
from ebay_sandbox.faults import FaultRequest
from ebay_sandbox.state import Sandbox, SandboxDep

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
    sandbox.push.kick()  # changes that just happened go out now, not at the next scan
    return _clock_body(sandbox)


@router.get("/sellers")
async def list_sellers(sandbox: SandboxDep) -> list[dict[str, str]]:
    """All simulated sellers."""
    return [
        {
            "userId": s.user_id,
            "username": s.username,
            "marketplaceId": s.marketplace_id,
            "accountType": s.account_type,
            "profile": s.profile.name,
        }
        for s in sandbox.sellers
    ]


@router.post("/faults")
async def add_fault(body: FaultRequest, sandbox: SandboxDep) -> dict[str, object]:
    """Make the next API calls of a seller (of one family, optionally) fail."""
    if sandbox.seller(body.username) is None:
        raise HTTPException(404, f"unknown seller {body.username!r}")
    sandbox.faults.add(body, sandbox.clock.now_ms())
    return {"username": body.username, "pending": sandbox.faults.pending(body.username)}


@router.get("/faults")
async def list_faults(sandbox: SandboxDep) -> list[dict[str, object]]:
    """Every pending fault."""
    return sandbox.faults.describe()


@router.delete("/faults")
async def clear_faults(sandbox: SandboxDep, username: str | None = None) -> dict[str, bool]:
    """Drop pending faults (of one seller with ``?username=``)."""
    sandbox.faults.clear(username)
    return {"cleared": True}


@router.get("/calls")
async def calls(sandbox: SandboxDep) -> dict[str, object]:
    """Calls counted against each quota pool (``api/resource``, as getRateLimits names them):
    today's, and those of the last quota day that ended (None before the first reset)."""
    today, ended = sandbox.quotas.days(sandbox.clock.now_ms())
    return {"today": today.body(), "ended": ended.body() if ended else None}


@router.get("/stats")
async def stats(sandbox: SandboxDep) -> dict[str, object]:
    """Requests served (per endpoint), request rate, and cache use."""
    pages, page_hits, page_misses = sandbox.pages.stats
    body = sandbox.stats.snapshot()
    body["caches"] = {
        "pages": {"entries": pages, "hits": page_hits, "misses": page_misses},
        "rendered_entities": len(sandbox.rendered),
    }
    body["work"] = sandbox.work()
    return body
