"""The first admin: with no user at all, start-up creates the configured org and admin."""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from admin_api.security import Role, hash_password_async
from admin_api.settings import AdminApiSettings
from common.db.accounts import AccountRepository, User
from common.db.admin import UserRepository

log = logging.getLogger(__name__)


async def bootstrap_admin(
    sessions: async_sessionmaker[AsyncSession], settings: AdminApiSettings
) -> bool:
    """Create the first admin if none exists and one is configured; True if it did."""
    email, password = settings.bootstrap_admin_email, settings.bootstrap_admin_password
    if not email or password is None:
        return False
    try:
        async with sessions.begin() as session:
            users = UserRepository(session)
            if await users.any_exists():
                return False
            org = await AccountRepository(session).get_or_create_org(settings.bootstrap_org)
            await users.add(
                User(
                    org_id=org.id,
                    email=email,
                    password_hash=await hash_password_async(password.get_secret_value()),
                    role=str(Role.ADMIN),
                )
            )
    except IntegrityError:  # another replica bootstrapped at the same moment
        return False
    log.info("created the first admin %s in org %s", email, settings.bootstrap_org)
    return True
