"""Orgs, users and eBay accounts.

Written by the admin API (and by ``ebaysync up`` when it seeds sandbox sellers); the token
service only flips ``needs_reauth``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from common.db.base import Base, created_at_column


class Org(Base):
    __tablename__ = "orgs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)
    created_at: Mapped[datetime] = created_at_column()


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    email: Mapped[str] = mapped_column(unique=True)
    password_hash: Mapped[str]
    role: Mapped[str]  # viewer | operator | admin
    active: Mapped[bool] = mapped_column(server_default=text("true"))
    created_at: Mapped[datetime] = created_at_column()
    # Login tokens carry the version they were issued at; a bump (password change, logout)
    # revokes every token issued before it.
    token_version: Mapped[int] = mapped_column(server_default=text("0"))


class EbayAccount(Base):
    __tablename__ = "ebay_accounts"
    __table_args__ = (
        # House names are unique per org among active accounts only, so a name can be reused
        # after its account is deactivated.
        Index(
            "uq_ebay_accounts_org_house_name_active",
            "org_id",
            "house_name",
            unique=True,
            postgresql_where=text("active"),
        ),
        Index(
            "uq_ebay_accounts_org_env_user", "org_id", "environment", "ebay_user_id", unique=True
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    ebay_user_id: Mapped[str]
    username: Mapped[str]
    house_name: Mapped[str]
    marketplace_id: Mapped[str]
    site_id: Mapped[int] = mapped_column(Integer)
    environment: Mapped[str]  # production | sandbox
    # seller | buyer | both: which families it syncs (common.families.PURPOSE_FAMILIES).
    purpose: Mapped[str] = mapped_column(server_default=text("'both'"))
    active: Mapped[bool] = mapped_column(server_default=text("true"))
    needs_reauth: Mapped[bool] = mapped_column(server_default=text("false"))
    # When eBay told us the seller revoked ebaysync's access (AUTHORIZATION_REVOCATION); a
    # reconnect clears it.
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
    deactivated_at: Mapped[datetime | None]


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_or_create_org(self, name: str) -> Org:
        org = await self.session.scalar(select(Org).where(Org.name == name))
        if org is None:
            org = Org(name=name)
            self.session.add(org)
            await self.session.flush()
        return org

    async def find_by_ebay_user(
        self, org_id: int, environment: str, ebay_user_id: str
    ) -> EbayAccount | None:
        return await self.session.scalar(
            select(EbayAccount).where(
                EbayAccount.org_id == org_id,
                EbayAccount.environment == environment,
                EbayAccount.ebay_user_id == ebay_user_id,
            )
        )

    async def add(self, account: EbayAccount) -> EbayAccount:
        self.session.add(account)
        await self.session.flush()
        return account

    async def get(self, account_id: int) -> EbayAccount | None:
        return await self.session.get(EbayAccount, account_id)

    async def owned_ids(self, account_ids: set[int]) -> set[int]:
        """Which of these ids name an account (of any org)."""
        if not account_ids:
            return set()
        result = await self.session.scalars(
            select(EbayAccount.id).where(EbayAccount.id.in_(sorted(account_ids)))
        )
        return set(result.all())

    async def list_active(self) -> Sequence[EbayAccount]:
        result = await self.session.scalars(
            select(EbayAccount).where(EbayAccount.active).order_by(EbayAccount.id)
        )
        return result.all()

    async def list_for_org(self, org_id: int) -> Sequence[EbayAccount]:
        result = await self.session.scalars(
            select(EbayAccount).where(EbayAccount.org_id == org_id).order_by(EbayAccount.id)
        )
        return result.all()

    async def mark_needs_reauth(self, account_id: int, needs_reauth: bool) -> None:
        """A new grant (``False``) also ends a revocation."""
        values: dict[str, object] = {"needs_reauth": needs_reauth}
        if not needs_reauth:
            values["revoked_at"] = None
        await self.session.execute(
            update(EbayAccount).where(EbayAccount.id == account_id).values(**values)
        )

    async def revoke(self, account: EbayAccount, now: datetime) -> None:
        """The seller revoked ebaysync's access: its tokens are deleted and its pairs stop (an
        account that needs reauth is never scheduled) until it is reconnected; its mirrored
        data stays."""
        account.needs_reauth = True
        account.revoked_at = now
        # ebay_tokens (common.db.tokens, which imports this module): the token service's rows.
        await self.session.execute(
            text("DELETE FROM ebay_tokens WHERE account_id = :id"), {"id": account.id}
        )

    async def ids_in_orgs(self, org_ids: Sequence[int]) -> set[int]:
        """The accounts of these orgs (the scheduler skips those of a paused org)."""
        if not org_ids:
            return set()
        result = await self.session.scalars(
            select(EbayAccount.id).where(EbayAccount.org_id.in_(list(org_ids)))
        )
        return set(result.all())

    # --- admin API -------------------------------------------------------------------------

    async def get_for_org(self, org_id: int, account_id: int) -> EbayAccount | None:
        """The account, or None when it does not exist or belongs to another org."""
        return await self.session.scalar(
            select(EbayAccount)
            .where(EbayAccount.id == account_id, EbayAccount.org_id == org_id)
            .execution_options(populate_existing=True)
        )

    async def list_active_for_org(self, org_id: int) -> Sequence[EbayAccount]:
        result = await self.session.scalars(
            select(EbayAccount)
            .where(EbayAccount.org_id == org_id, EbayAccount.active)
            .order_by(EbayAccount.house_name, EbayAccount.id)
        )
        return result.all()

    async def house_name_taken(
        self, org_id: int, house_name: str, exclude_id: int | None = None
    ) -> bool:
        """Whether an active account of the org already has this house name."""
        query = select(EbayAccount.id).where(
            EbayAccount.org_id == org_id, EbayAccount.active, EbayAccount.house_name == house_name
        )
        if exclude_id is not None:
            query = query.where(EbayAccount.id != exclude_id)
        return await self.session.scalar(query.limit(1)) is not None

    async def find_by_ebay_user_id(self, ebay_user_id: str) -> Sequence[EbayAccount]:
        """Every account (of any org and environment) of one eBay user."""
        result = await self.session.scalars(
            select(EbayAccount)
            .where(EbayAccount.ebay_user_id == ebay_user_id)
            .order_by(EbayAccount.id)
        )
        return result.all()

    async def find_by_username(self, username: str) -> Sequence[EbayAccount]:
        result = await self.session.scalars(
            select(EbayAccount).where(EbayAccount.username == username).order_by(EbayAccount.id)
        )
        return result.all()

    async def get_org(self, org_id: int) -> Org | None:
        return await self.session.get(Org, org_id)
