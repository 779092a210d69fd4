"""The eBay families, as the UI names and lists them: one home for their labels
(``common.families.FAMILIES``), so the UI hard-codes none."""

from __future__ import annotations

from fastapi import APIRouter

from admin_api.dependencies import CurrentUser
from admin_api.schemas import Schema
from common.families import FAMILIES

router = APIRouter(tags=["families"])


class FamilyOut(Schema):
    """One family: its name in the API (``family`` everywhere else) and its label."""

    family: str
    label: str
    # "seller" or "buyer": which account purposes sync it.
    side: str
    # Enumerated whole each run (no time window, no cursor).
    snapshot: bool


@router.get("/api/families")
async def list_families(user: CurrentUser) -> list[FamilyOut]:
    """Every family, in the order the UI lists them."""
    return [
        FamilyOut(family=str(f), label=s.label, side=str(s.side), snapshot=s.snapshot)
        for f, s in FAMILIES.items()
    ]
