"""Encrypted OAuth tokens and the refresh log. Written only by the token service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from common.db.base import Base


class EbayToken(Base):
    __tablename__ = "ebay_tokens"

    account_id: Mapped[int] = mapped_column(ForeignKey("ebay_accounts.id"), primary_key=True)
    # Which key of the key ring encrypted both ciphertexts: decrypting with any other key fails
    # loudly instead of handing eBay garbage.
    key_id: Mapped[str]
    refresh_token_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    refresh_token_expires_at: Mapped[datetime]
    access_token_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    access_token_expires_at: Mapped[datetime | None]
    scopes: Mapped[str]
    last_refresh_at: Mapped[datetime | None]
    refresh_error: Mapped[str | None]
    updated_at: Mapped[datetime]


class TokenRefreshLog(Base):
    __tablename__ = "token_refresh_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ebay_accounts.id"), index=True)
    at: Mapped[datetime]
    reason: Mapped[str]  # connect | expired | forced | ahead
    outcome: Mapped[str]  # ok | invalid_grant | error
    detail: Mapped[str | None]


@dataclass(frozen=True)
class StoredTokens:
    key_id: str
    refresh_token_ciphertext: bytes
    refresh_token_expires_at: datetime
    access_token_ciphertext: bytes | None
    access_token_expires_at: datetime | None
    scopes: str


class TokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, account_id: int) -> EbayToken | None:
        return await self.session.get(EbayToken, account_id, populate_existing=True)

    async def save(self, account_id: int, tokens: StoredTokens, now: datetime) -> None:
        values = {
            "account_id": account_id,
            "key_id": tokens.key_id,
            "refresh_token_ciphertext": tokens.refresh_token_ciphertext,
            "refresh_token_expires_at": tokens.refresh_token_expires_at,
            "access_token_ciphertext": tokens.access_token_ciphertext,
            "access_token_expires_at": tokens.access_token_expires_at,
            "scopes": tokens.scopes,
            "last_refresh_at": now,
            "refresh_error": None,
            "updated_at": now,
        }
        stmt = insert(EbayToken).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[EbayToken.account_id],
            set_={k: stmt.excluded[k] for k in values if k != "account_id"},
        )
        await self.session.execute(stmt)

    async def record_refresh_error(self, account_id: int, detail: str, now: datetime) -> None:
        token = await self.get(account_id)
        if token is not None:
            token.refresh_error = detail
            token.updated_at = now

    async def log_refresh(
        self, account_id: int, at: datetime, reason: str, outcome: str, detail: str | None = None
    ) -> None:
        self.session.add(
            TokenRefreshLog(
                account_id=account_id, at=at, reason=reason, outcome=outcome, detail=detail
            )
        )

    async def refresh_log(self, account_id: int, limit: int = 50) -> list[TokenRefreshLog]:
        result = await self.session.scalars(
            select(TokenRefreshLog)
            .where(TokenRefreshLog.account_id == account_id)
            .order_by(TokenRefreshLog.id.desc())
            .limit(limit)
        )
        return list(result.all())

    # --- admin API (reads status only, never a ciphertext) ----------------------------------

    async def statuses(self, account_ids: Sequence[int]) -> dict[int, TokenStatusRow]:
        """Expiries and errors of the accounts' tokens, without their ciphertexts."""
        rows = await self.session.execute(
            select(
                EbayToken.account_id,
                EbayToken.access_token_expires_at,
                EbayToken.refresh_token_expires_at,
                EbayToken.last_refresh_at,
                EbayToken.refresh_error,
                EbayToken.scopes,
                EbayToken.updated_at,
            ).where(EbayToken.account_id.in_(list(account_ids)))
        )
        return {r.account_id: TokenStatusRow(*r) for r in rows}


@dataclass(frozen=True)
class TokenStatusRow:
    account_id: int
    access_token_expires_at: datetime | None
    refresh_token_expires_at: datetime
    last_refresh_at: datetime | None
    refresh_error: str | None
    scopes: str
    updated_at: datetime
