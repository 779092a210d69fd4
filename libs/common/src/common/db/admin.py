"""Operator-side tables and queries: users, OAuth connect states, log retention, data purges.

Written only by the admin API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, case, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from common.db.accounts import EbayAccount, User
from common.db.base import Base, MirroredRow
from common.db.events import EbayEvent
from common.db.sync_tables import OPEN_SQL
from common.db.tokens import EbayToken, TokenRefreshLog


class OAuthState(Base):
    """One started OAuth connect: the nonce its signed ``state`` names, usable once, expiring."""

    __tablename__ = "oauth_states"

    nonce: Mapped[str] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # Set when the connect renews the consent of an existing account.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("ebay_accounts.id"))
    house_name: Mapped[str | None]
    environment: Mapped[str]
    purpose: Mapped[str] = mapped_column(server_default=text("'both'"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class LoginThrottle(Base):
    """Failed sign-ins per key (``email:…`` or ``addr:…``) in the current fixed window; in the
    database so every replica counts the same failures."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(primary_key=True)
    window_started_at: Mapped[datetime]
    failures: Mapped[int]


class DeletionNoticeSeen(Base):
    """A verified account-deletion notification id, kept for the replay window."""

    __tablename__ = "deletion_notices_seen"

    notification_id: Mapped[str] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)


@dataclass(frozen=True)
class FailureCount:
    key: str
    window_started_at: datetime
    failures: int


class LoginThrottleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def counts(self, keys: Sequence[str]) -> list[FailureCount]:
        rows = await self.session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys)))
        return [FailureCount(r.key, r.window_started_at, r.failures) for r in rows]

    async def record_failure(
        self, keys: Sequence[str], now: datetime, window_start: datetime
    ) -> None:
        """Count one failure under each key; a window that began before ``window_start`` is
        over, and the count starts again at 1. One atomic upsert per key."""
        # Rows of ended windows count for nothing: dropping them keeps the table as small as
        # one window's failures, whatever emails an attacker makes up.
        await self.session.execute(
            delete(LoginThrottle).where(
                LoginThrottle.window_started_at < window_start, LoginThrottle.key.not_in(keys)
            )
        )
        for key in keys:
            statement = insert(LoginThrottle).values(key=key, window_started_at=now, failures=1)
            over = LoginThrottle.window_started_at < window_start
            await self.session.execute(
                statement.on_conflict_do_update(
                    index_elements=[LoginThrottle.key],
                    set_={
                        "failures": case((over, 1), else_=LoginThrottle.failures + 1),
                        "window_started_at": case(
                            (over, statement.excluded.window_started_at),
                            else_=LoginThrottle.window_started_at,
                        ),
                    },
                )
            )

    async def clear(self, key: str) -> None:
        await self.session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


class DeletionNoticeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def first_sight(
        self, notification_id: str, now: datetime, forget_before: datetime
    ) -> bool:
        """Remember the id; False when it was already seen (a replay). Ids older than
        ``forget_before`` are dropped on the way."""
        await self.session.execute(
            delete(DeletionNoticeSeen).where(DeletionNoticeSeen.received_at < forget_before)
        )
        inserted = await self.session.scalar(
            insert(DeletionNoticeSeen)
            .values(notification_id=notification_id, received_at=now)
            .on_conflict_do_nothing(index_elements=[DeletionNoticeSeen.notification_id])
            .returning(DeletionNoticeSeen.notification_id)
        )
        return inserted is not None


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def any_exists(self) -> bool:
        return bool(await self.session.scalar(select(func.count()).select_from(User)))

    async def get(self, user_id: int) -> User | None:
        return await self.session.get(User, user_id, populate_existing=True)

    async def by_email(self, email: str) -> User | None:
        return await self.session.scalar(
            select(User).where(func.lower(User.email) == email.lower())
        )

    async def add(self, user: User) -> User:
        self.session.add(user)
        await self.session.flush()
        return user

    async def bump_token_version(self, user_id: int) -> None:
        """Revoke every login token of the user issued so far."""
        await self.session.execute(
            update(User).where(User.id == user_id).values(token_version=User.token_version + 1)
        )

    async def list_for_org(self, org_id: int) -> Sequence[User]:
        result = await self.session.scalars(
            select(User).where(User.org_id == org_id).order_by(User.id)
        )
        return result.all()


class OAuthStateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, state: OAuthState) -> None:
        self.session.add(state)
        await self.session.flush()

    async def consume(self, nonce: str, now: datetime) -> OAuthState | None:
        """Mark the state used and return it; None when unknown, expired or already used.

        One atomic UPDATE: two callbacks racing with the same state cannot both win.
        """
        result = await self.session.scalars(
            update(OAuthState)
            .where(
                OAuthState.nonce == nonce,
                OAuthState.used_at.is_(None),
                OAuthState.expires_at > now,
            )
            .values(used_at=now)
            .returning(OAuthState)
        )
        return result.one_or_none()

    async def delete_expired(self, before: datetime) -> int:
        result = await self.session.execute(
            delete(OAuthState).where(OAuthState.expires_at < before)
        )
        return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class PurgeCounts:
    sync_pages: int
    sync_runs: int
    token_refresh_log: int


class RetentionRepository:
    """Deletes an org's operational logs older than a cutoff; open runs and the latest run of
    every worker are always kept, so the workers view never loses its last run."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    _OLD_RUNS = f"""
        SELECT r.run_id FROM sync_runs r JOIN ebay_accounts a ON a.id = r.account_id
        WHERE a.org_id = :org_id AND r.updated_at < :before
          AND r.status NOT IN ({OPEN_SQL})
          AND EXISTS (SELECT 1 FROM sync_runs newer
                      WHERE newer.account_id = r.account_id AND newer.family = r.family
                        AND newer.updated_at > r.updated_at)
    """

    async def count(self, org_id: int, before: datetime) -> PurgeCounts:
        params = {"org_id": org_id, "before": before}
        pages = await self.session.scalar(
            text(f"SELECT count(*) FROM sync_pages WHERE run_id IN ({self._OLD_RUNS})"), params
        )
        runs = await self.session.scalar(text(f"SELECT count(*) FROM ({self._OLD_RUNS}) o"), params)
        log = await self.session.scalar(
            select(func.count())
            .select_from(TokenRefreshLog)
            .join(EbayAccount, EbayAccount.id == TokenRefreshLog.account_id)
            .where(EbayAccount.org_id == org_id, TokenRefreshLog.at < before)
        )
        return PurgeCounts(int(pages or 0), int(runs or 0), int(log or 0))

    async def purge(self, org_id: int, before: datetime) -> PurgeCounts:
        params = {"org_id": org_id, "before": before}
        runs = [r.run_id for r in await self.session.execute(text(self._OLD_RUNS), params)]
        pages = await self.session.execute(
            text("DELETE FROM sync_pages WHERE run_id = ANY(:runs)"), {"runs": runs}
        )
        deleted_runs = await self.session.execute(
            text("DELETE FROM sync_runs WHERE run_id = ANY(:runs)"), {"runs": runs}
        )
        log = await self.session.execute(
            text(
                "DELETE FROM token_refresh_log l USING ebay_accounts a "
                "WHERE l.account_id = a.id AND a.org_id = :org_id AND l.at < :before"
            ),
            params,
        )
        return PurgeCounts(
            int(getattr(pages, "rowcount", 0) or 0),
            int(getattr(deleted_runs, "rowcount", 0) or 0),
            int(getattr(log, "rowcount", 0) or 0),
        )


class AccountDataRepository:
    """Erases what ebaysync holds about an eBay user (marketplace account deletion)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def purge(self, account: EbayAccount, now: datetime) -> int:
        """Delete the account's mirrored rows, history and tokens; deactivate and anonymise it.

        The row itself stays (runs and sync state refer to it) with its immutable eBay user id,
        so a repeated notification finds it again. Returns how many rows were deleted.
        """
        deleted = 0
        mirrored = [
            mapper.local_table
            for mapper in Base.registry.mappers
            if issubclass(mapper.class_, MirroredRow)
        ]
        # Children (line items) before their parents (orders).
        ordered = [t for t in reversed(Base.metadata.sorted_tables) if t in mirrored]
        for table in [
            *ordered,
            EbayEvent.__table__,
            EbayToken.__table__,
            TokenRefreshLog.__table__,
        ]:
            result = await self.session.execute(
                delete(table).where(table.c.account_id == account.id)
            )
            deleted += int(getattr(result, "rowcount", 0) or 0)
        account.active = False
        account.needs_reauth = True
        account.deactivated_at = account.deactivated_at or now
        account.username = f"deleted-{account.id}"
        account.house_name = f"deleted-{account.id}"
        await self.session.flush()
        return deleted
