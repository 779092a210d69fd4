"""Sandbox-only control of the push channel: faults, statistics, the attempt log, forced scans,
account deletion and signing-key rotation (``/sandbox/notifications``)."""

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from ebay_sandbox.notifications.deliveries import account_deleted
from ebay_sandbox.state import SandboxDep

router = APIRouter(prefix="/sandbox/notifications")


class FaultsRequest(BaseModel):
    """Body of ``PUT /sandbox/notifications/faults``: shares of notifications (0..1)."""

    drop: float = Field(default=0, ge=0, le=1)
    delay: float = Field(default=0, ge=0, le=1)
    delay_seconds: float = Field(default=2.0, ge=0, le=3600)
    duplicate: float = Field(default=0, ge=0, le=1)
    reorder: float = Field(default=0, ge=0, le=1)


class UserRequest(BaseModel):
    """A seller."""

    username: str


@router.get("/faults")
async def get_faults(sandbox: SandboxDep) -> dict[str, float]:
    """Fault shares in force."""
    return sandbox.push.faults.as_json()


@router.put("/faults")
async def set_faults(body: FaultsRequest, sandbox: SandboxDep) -> dict[str, float]:
    """Replace the fault shares (omitted ones are 0)."""
    faults = sandbox.push.faults
    faults.drop, faults.delay, faults.delay_seconds = body.drop, body.delay, body.delay_seconds
    faults.duplicate, faults.reorder = body.duplicate, body.reorder
    return faults.as_json()


@router.get("/stats")
async def get_stats(sandbox: SandboxDep) -> dict[str, object]:
    """Counters per topic and in total, and how many notifications are still on their way."""
    body = sandbox.push.stats.snapshot()
    body["pending"] = sandbox.push.pending
    body["scheduled_retries"] = sandbox.push.scheduled_retries
    return body


@router.delete("/stats")
async def reset_stats(sandbox: SandboxDep) -> dict[str, bool]:
    """Zero the counters and the log."""
    sandbox.push.stats.topics.clear()
    sandbox.push.stats.log.clear()
    return {"reset": True}


@router.get("/log")
async def get_log(
    sandbox: SandboxDep, topic: str | None = None, limit: int = 500
) -> list[dict[str, object]]:
    """The last attempts (and drops), oldest first; ``?topic=`` filters."""
    entries = [e for e in sandbox.push.stats.log if topic is None or e["topic"] == topic]
    return entries[-max(0, limit) :]


@router.post("/scan")
async def scan(sandbox: SandboxDep) -> dict[str, int]:
    """Look for changes now (queues due retries too); returns the notifications generated."""
    return {"generated": sandbox.push.scan(), "pending": sandbox.push.pending}


@router.post("/account_deletion")
async def delete_account(body: UserRequest, sandbox: SandboxDep) -> dict[str, str]:
    """The seller closes their eBay account: MARKETPLACE_ACCOUNT_DELETION goes out."""
    seller = sandbox.seller(body.username)
    if seller is None:
        raise HTTPException(404, f"unknown seller {body.username!r}")
    sandbox.push.emit(account_deleted(seller, sandbox.clock.now_ms()))
    return {"username": seller.username}


@router.post("/keys/rotate")
async def rotate_key(sandbox: SandboxDep) -> dict[str, str]:
    """Sign with a new key from now on; the old key id stays resolvable by getPublicKey."""
    return {"kid": sandbox.push_keys.rotate()}
