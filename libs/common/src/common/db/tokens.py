"""Encrypted OAuth tokens and the refresh log. Written only by the token service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, LargeBinary, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from common.db.accounts import EbayAccount
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
    # When the token service last warned that the seller's consent (the refresh token) ends
    # soon: claimed atomically, so replicas warn once per account per day between them.
    expiry_warned_at: Mapped[datetime | None]
    # The scopes eBay granted, verbatim from a token response's ``scope`` field; None while
    # eBay sent none (it omits the field when it granted what was asked: RFC 6749 §5.1).
    granted_scopes: Mapped[str | None]
    # The last failed refresh as sent and answered, masked (common.ebay.oauth_requests):
    # status, headers, eBay's error body. Never a token or the client secret.
    last_refresh_failure: Mapped[dict[str, Any] | None]


class TokenRefreshLog(Base):
    __tablename__ = "token_refresh_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ebay_accounts.id"), index=True)
    at: Mapped[datetime]
    reason: Mapped[str]  # connect | expired | forced | ahead | sweep
    outcome: Mapped[str]  # ok | invalid_grant | error
    detail: Mapped[str | None]


@dataclass(frozen=True)
class StoredTokens:
    key_id: str
    refresh_token_ciphertext: bytes
    refresh_token_expires_at: datetime
    access_token_ciphertext: bytes | None
    access_token_expires_at: datetime | None
    # What a refresh asks for: the granted scopes when eBay named them, else those consented.
    scopes: str
    granted_scopes: str | None = None


class TokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, account_id: int) -> EbayToken | None:
        return await self.session.get(EbayToken, account_id, populate_existing=True)

    async def lock(self, account_id: int, *, skip_locked: bool = False) -> EbayToken | None:
        """The account's row, locked until the transaction ends: the single flight of refreshes
        across replicas. ``skip_locked``: None at once when another transaction holds it."""
        return await self.session.scalar(
            select(EbayToken)
            .where(EbayToken.account_id == account_id)
            .with_for_update(skip_locked=skip_locked)
            .execution_options(populate_existing=True)
        )

    async def due_for_refresh(self, expiring_before: datetime) -> list[int]:
        """Accounts that can sync and whose access token is missing or expires before then."""
        result = await self.session.scalars(
            select(EbayToken.account_id)
            .join(EbayAccount, EbayAccount.id == EbayToken.account_id)
            .where(
                EbayAccount.active,
                ~EbayAccount.needs_reauth,
                or_(
                    EbayToken.access_token_expires_at.is_(None),
                    EbayToken.access_token_expires_at < expiring_before,
                ),
            )
            .order_by(EbayToken.access_token_expires_at.nulls_first(), EbayToken.account_id)
        )
        return list(result.all())

    async def claim_expiry_warnings(
        self, expiring_before: datetime, warned_before: datetime, now: datetime
    ) -> list[tuple[int, datetime]]:
        """(account, refresh-token expiry) of every syncing account whose consent ends before
        ``expiring_before`` and that was not warned about since ``warned_before``; marks them
        warned in the same statement, so no other replica warns about them again."""
        syncing = select(EbayAccount.id).where(EbayAccount.active, ~EbayAccount.needs_reauth)
        result = await self.session.execute(
            update(EbayToken)
            .where(
                EbayToken.account_id.in_(syncing),
                EbayToken.refresh_token_expires_at < expiring_before,
                or_(
                    EbayToken.expiry_warned_at.is_(None),
                    EbayToken.expiry_warned_at <= warned_before,
                ),
            )
            .values(expiry_warned_at=now)
            .returning(EbayToken.account_id, EbayToken.refresh_token_expires_at)
            .execution_options(synchronize_session=False)
        )
        return sorted((row.account_id, row.refresh_token_expires_at) for row in result)

    async def count_consent_ending(self, expiring_before: datetime) -> int:
        """Syncing accounts whose refresh token expires before then."""
        count = await self.session.scalar(
            select(func.count())
            .select_from(EbayToken)
            .join(EbayAccount, EbayAccount.id == EbayToken.account_id)
            .where(
                EbayAccount.active,
                ~EbayAccount.needs_reauth,
                EbayToken.refresh_token_expires_at < expiring_before,
            )
        )
        return count or 0

    # --- key rotation ----------------------------------------------------------------------

    async def count_by_key(self) -> dict[str, int]:
        rows = await self.session.execute(
            select(EbayToken.key_id, func.count()).group_by(EbayToken.key_id)
        )
        return {key_id: count for key_id, count in rows}

    async def lock_not_under_key(
        self, key_id: str, after_account_id: int, limit: int
    ) -> list[EbayToken]:
        """The next batch (by account id) of rows encrypted under any other key, locked, so no
        refresh rewrites a row while it is re-encrypted."""
        result = await self.session.scalars(
            select(EbayToken)
            .where(EbayToken.key_id != key_id, EbayToken.account_id > after_account_id)
            .order_by(EbayToken.account_id)
            .limit(limit)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return list(result.all())

    async def rekey(
        self,
        account_id: int,
        key_id: str,
        refresh_token_ciphertext: bytes,
        access_token_ciphertext: bytes | None,
        now: datetime,
    ) -> None:
        """Store the same tokens under another key; expiries and refresh history stay."""
        await self.session.execute(
            update(EbayToken)
            .where(EbayToken.account_id == account_id)
            .values(
                key_id=key_id,
                refresh_token_ciphertext=refresh_token_ciphertext,
                access_token_ciphertext=access_token_ciphertext,
                updated_at=now,
            )
        )

    async def save(self, account_id: int, tokens: StoredTokens, now: datetime) -> None:
        values = {
            "account_id": account_id,
            "key_id": tokens.key_id,
            "refresh_token_ciphertext": tokens.refresh_token_ciphertext,
            "refresh_token_expires_at": tokens.refresh_token_expires_at,
            "access_token_ciphertext": tokens.access_token_ciphertext,
            "access_token_expires_at": tokens.access_token_expires_at,
            "scopes": tokens.scopes,
            "granted_scopes": tokens.granted_scopes,
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

    async def record_refresh_error(
        self,
        account_id: int,
        detail: str,
        now: datetime,
        capture: dict[str, Any] | None = None,
    ) -> None:
        """Keep the error, and the masked HTTP capture when the call reached eBay (a failure
        without one, e.g. eBay unreachable, keeps the previous capture)."""
        token = await self.get(account_id)
        if token is not None:
            token.refresh_error = detail
            token.updated_at = now
            if capture is not None:
                token.last_refresh_failure = capture

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
