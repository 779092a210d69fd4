"""The application's eBay signing key pairs (Key Management). Written only by the token service.

The private key is encrypted with the token service's key ring, like the OAuth tokens; the JWE
is eBay's own encryption of the public key and travels in every signed request's headers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import LargeBinary, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from common.db.base import Base

# Serialises key creation across token-service replicas: the key pair is created once.
_CREATE_LOCK = "ebaysync:signing_key:create"


class EbaySigningKey(Base):
    __tablename__ = "ebay_signing_keys"

    signing_key_id: Mapped[str] = mapped_column(primary_key=True)
    # Which eBay issued it (production, sandbox, a test sandbox): a key pair is only good
    # where it was created.
    apiz_base_url: Mapped[str] = mapped_column(index=True)
    cipher: Mapped[str]
    jwe: Mapped[str]
    # Which key of the key ring encrypted the private key.
    key_id: Mapped[str]
    private_key_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]


@dataclass(frozen=True)
class NewSigningKey:
    signing_key_id: str
    apiz_base_url: str
    cipher: str
    jwe: str
    key_id: str
    private_key_ciphertext: bytes
    created_at: datetime
    expires_at: datetime | None


class SigningKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_creation(self) -> None:
        """Hold, until the transaction ends, the right to create a key pair."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": _CREATE_LOCK}
        )

    async def usable(self, apiz_base_url: str, valid_until: datetime) -> EbaySigningKey | None:
        """The newest key pair of that eBay that is still valid at ``valid_until``."""
        result = await self.session.scalars(
            select(EbaySigningKey)
            .where(
                EbaySigningKey.apiz_base_url == apiz_base_url,
                or_(EbaySigningKey.expires_at.is_(None), EbaySigningKey.expires_at > valid_until),
            )
            .order_by(EbaySigningKey.created_at.desc())
            .limit(1)
        )
        return result.first()

    async def add(self, key: NewSigningKey) -> EbaySigningKey:
        row = EbaySigningKey(
            signing_key_id=key.signing_key_id,
            apiz_base_url=key.apiz_base_url,
            cipher=key.cipher,
            jwe=key.jwe,
            key_id=key.key_id,
            private_key_ciphertext=key.private_key_ciphertext,
            created_at=key.created_at,
            expires_at=key.expires_at,
        )
        self.session.add(row)
        await self.session.flush()
        return row
