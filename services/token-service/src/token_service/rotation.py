"""Key rotation: re-encrypt every stored token — and the signing keys' private keys — with the
key ring's active key.

Run it after the token services were given the new key ring (new key active, old keys still
listed): from then on refreshes write the new key anyway, and this moves the rest. Each batch
is one transaction that locks its rows, so a refresh in flight and a rotation never overwrite
each other. Idempotent and resumable: rows already under the active key are left alone. A row
that no key of the ring can decrypt is reported and left as it is — it is not a reason to stop
rotating the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.engine import build_engine, build_sessionmaker
from common.db.signing_keys import EbaySigningKey
from common.db.tokens import EbayToken, TokenRepository
from token_service.crypto import KeyRing, TokenDecryptionError
from token_service.service import ACCESS, REFRESH
from token_service.settings import TokenServiceSettings
from token_service.signing_keys import NO_ACCOUNT, private_key_purpose

DEFAULT_BATCH_SIZE = 100


@dataclass(frozen=True)
class UnreadableToken:
    account_id: int
    key_id: str
    reason: str


@dataclass
class RotationReport:
    active_key_id: str
    # Under the active key before this run started.
    already_current: int = 0
    rotated: int = 0
    unreadable: list[UnreadableToken] = field(default_factory=list)
    # The application's signing keys (Finances signatures), encrypted with the same ring.
    signing_keys_rotated: int = 0
    signing_keys_unreadable: list[str] = field(default_factory=list)


async def rotate_tokens(
    sessions: async_sessionmaker[AsyncSession],
    keyring: KeyRing,
    clock: Callable[[], datetime],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> RotationReport:
    active = keyring.active_key_id
    async with sessions() as session:
        counts = await TokenRepository(session).count_by_key()
    report = RotationReport(active, already_current=counts.get(active, 0))
    after_account_id = 0
    while True:
        async with sessions.begin() as session:
            tokens = TokenRepository(session)
            batch = await tokens.lock_not_under_key(active, after_account_id, batch_size)
            if not batch:
                await _rotate_signing_keys(sessions, keyring, report)
                return report
            now = clock()
            for row in batch:
                try:
                    refresh, access = _decrypt_both(keyring, row)
                except TokenDecryptionError as exc:
                    report.unreadable.append(UnreadableToken(row.account_id, row.key_id, str(exc)))
                    continue
                await tokens.rekey(
                    row.account_id,
                    active,
                    _encrypt(keyring, refresh, row.account_id, REFRESH),
                    None if access is None else _encrypt(keyring, access, row.account_id, ACCESS),
                    now,
                )
                report.rotated += 1
            after_account_id = batch[-1].account_id


async def _rotate_signing_keys(
    sessions: async_sessionmaker[AsyncSession], keyring: KeyRing, report: RotationReport
) -> None:
    """Re-encrypt the signing keys' private keys (a handful of rows: one transaction)."""
    active = keyring.active_key_id
    async with sessions.begin() as session:
        rows = await session.scalars(
            select(EbaySigningKey).where(EbaySigningKey.key_id != active).with_for_update()
        )
        for row in rows:
            purpose = private_key_purpose(row.signing_key_id)
            try:
                private_key = keyring.decrypt(
                    row.private_key_ciphertext,
                    key_id=row.key_id,
                    account_id=NO_ACCOUNT,
                    purpose=purpose,
                )
            except TokenDecryptionError:
                report.signing_keys_unreadable.append(row.signing_key_id)
                continue
            row.private_key_ciphertext = keyring.encrypt(
                private_key.get_secret_value(), account_id=NO_ACCOUNT, purpose=purpose
            )
            row.key_id = active
            report.signing_keys_rotated += 1


def _decrypt_both(keyring: KeyRing, row: EbayToken) -> tuple[SecretStr, SecretStr | None]:
    refresh = keyring.decrypt(
        row.refresh_token_ciphertext,
        key_id=row.key_id,
        account_id=row.account_id,
        purpose=REFRESH,
    )
    if row.access_token_ciphertext is None:
        return refresh, None
    access = keyring.decrypt(
        row.access_token_ciphertext, key_id=row.key_id, account_id=row.account_id, purpose=ACCESS
    )
    return refresh, access


def _encrypt(keyring: KeyRing, secret: SecretStr, account_id: int, purpose: str) -> bytes:
    return keyring.encrypt(secret.get_secret_value(), account_id=account_id, purpose=purpose)


async def rotate_with_settings(
    settings: TokenServiceSettings, clock: Callable[[], datetime], *, batch_size: int
) -> RotationReport:
    """Rotate with the token service's own settings (key ring and database)."""
    engine = build_engine(settings.database)
    try:
        return await rotate_tokens(
            build_sessionmaker(engine),
            KeyRing(settings.keys, settings.active_key_id),
            clock,
            batch_size=batch_size,
        )
    finally:
        await engine.dispose()


def describe(report: RotationReport) -> list[str]:
    """The report as lines for a terminal: counts, then every unreadable row."""
    lines = [
        f"active key {report.active_key_id!r}: {report.rotated} tokens re-encrypted, "
        f"{report.already_current} already under it, {len(report.unreadable)} unreadable"
    ]
    lines += [f"  account {u.account_id} (key {u.key_id!r}): {u.reason}" for u in report.unreadable]
    lines.append(
        f"{report.signing_keys_rotated} signing keys re-encrypted, "
        f"{len(report.signing_keys_unreadable)} unreadable"
    )
    lines += [f"  signing key {key}: does not decrypt" for key in report.signing_keys_unreadable]
    return lines
