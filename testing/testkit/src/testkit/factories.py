"""Factories ``create_<row>(session, **overrides)``: unique defaults, so tests never collide."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from common.db.accounts import AccountRepository, EbayAccount, Org

_sequence = itertools.count(1)


async def create_org(session: AsyncSession, **overrides: Any) -> Org:
    org = Org(name=overrides.pop("name", f"org-{uuid.uuid4().hex[:10]}"), **overrides)
    session.add(org)
    await session.flush()
    return org


async def create_account(session: AsyncSession, **overrides: Any) -> EbayAccount:
    n = next(_sequence)
    if "org_id" not in overrides:
        overrides["org_id"] = (await create_org(session)).id
    values: dict[str, Any] = {
        "ebay_user_id": f"user-{uuid.uuid4().hex[:12]}",
        "username": f"seller_{n}",
        "house_name": f"House {n} {uuid.uuid4().hex[:6]}",
        "marketplace_id": "EBAY_US",
        "site_id": 0,
        "environment": "sandbox",
    }
    values.update(overrides)
    return await AccountRepository(session).add(EbayAccount(**values))
