"""Key rotation on a real PostgreSQL: every token ends under the active key, readable."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from typer.testing import CliRunner

from common.db.migrate import upgrade_async
from common.db.signing_keys import EbaySigningKey
from common.db.tokens import EbayToken, StoredTokens, TokenRepository
from ebaysync.cli import app as cli
from ebaysync.runtime_local import TOKEN_KEY_ID, LocalSecrets
from testkit import servers
from testkit.factories import create_account
from testkit.servers import DatabaseServer
from token_service.crypto import KeyRing, generate_key
from token_service.rotation import describe, rotate_tokens
from token_service.signing_keys import NO_ACCOUNT, private_key_purpose

pytestmark = pytest.mark.postgres

OLD, NEW, LOST = generate_key(), generate_key(), generate_key()
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


@dataclass
class Database:
    url: str
    sessions: async_sessionmaker[AsyncSession]

    async def store(
        self, key_id: str, key: str, *, refresh: str, access: str | None
    ) -> tuple[int, StoredTokens]:
        """An account with tokens encrypted under ``key_id``, as the token service stores them."""
        ring = KeyRing({key_id: SecretStr(key)}, key_id)
        async with self.sessions.begin() as session:
            account_id = (await create_account(session)).id
            tokens = StoredTokens(
                key_id=key_id,
                refresh_token_ciphertext=ring.encrypt(
                    refresh, account_id=account_id, purpose="refresh_token"
                ),
                refresh_token_expires_at=NOW + timedelta(days=500),
                access_token_ciphertext=None
                if access is None
                else ring.encrypt(access, account_id=account_id, purpose="access_token"),
                access_token_expires_at=None if access is None else NOW + timedelta(hours=2),
                scopes="scope",
            )
            await TokenRepository(session).save(account_id, tokens, NOW)
        return account_id, tokens

    async def rows(self) -> dict[int, EbayToken]:
        async with self.sessions() as session:
            return {t.account_id: t for t in await session.scalars(select(EbayToken))}


@pytest.fixture
async def database(database_server: DatabaseServer) -> AsyncIterator[Database]:
    """A database of this test alone, so every count below is exact."""
    url = database_server.create_database(servers.unique_database_name("rotation"))
    await upgrade_async(url)
    engine = create_async_engine(url)
    try:
        yield Database(url, async_sessionmaker(engine, expire_on_commit=False))
    finally:
        await engine.dispose()


def plaintexts(ring: KeyRing, row: EbayToken) -> tuple[str, str | None]:
    refresh = ring.decrypt(
        row.refresh_token_ciphertext,
        key_id=row.key_id,
        account_id=row.account_id,
        purpose="refresh_token",
    ).get_secret_value()
    if row.access_token_ciphertext is None:
        return refresh, None
    access = ring.decrypt(
        row.access_token_ciphertext,
        key_id=row.key_id,
        account_id=row.account_id,
        purpose="access_token",
    ).get_secret_value()
    return refresh, access


async def test_rotation_moves_every_readable_token_to_the_active_key_and_reports_the_rest(
    database: Database,
) -> None:
    expected: dict[int, tuple[str, str | None]] = {}
    for n in range(5):
        account_id, _ = await database.store("old", OLD, refresh=f"refresh-{n}", access=f"at-{n}")
        expected[account_id] = (f"refresh-{n}", f"at-{n}")
    never_fetched, _ = await database.store("old", OLD, refresh="refresh-x", access=None)
    expected[never_fetched] = ("refresh-x", None)
    current, _ = await database.store("new", NEW, refresh="refresh-new", access="at-new")
    expected[current] = ("refresh-new", "at-new")
    lost, lost_tokens = await database.store("lost", LOST, refresh="refresh-lost", access="at")
    # A ciphertext under the right key id but another key (a wrong key was configured).
    forged, _ = await database.store("old", generate_key(), refresh="refresh-f", access="at-f")
    before = await database.rows()

    ring = KeyRing({"old": SecretStr(OLD), "new": SecretStr(NEW)}, "new")
    later = NOW + timedelta(days=1)
    report = await rotate_tokens(database.sessions, ring, lambda: later, batch_size=2)

    assert (report.rotated, report.already_current) == (6, 1)
    assert [(u.account_id, u.key_id) for u in report.unreadable] == [
        (lost, "lost"),
        (forged, "old"),
    ]
    rows = await database.rows()
    # The old key can go: the new one alone reads every rotated token, unchanged.
    new_only = KeyRing({"new": SecretStr(NEW)}, "new")
    for account_id, plain in expected.items():
        row = rows[account_id]
        assert row.key_id == "new"
        assert plaintexts(new_only, row) == plain
        assert row.access_token_expires_at == before[account_id].access_token_expires_at
        assert row.refresh_token_expires_at == before[account_id].refresh_token_expires_at
        assert row.last_refresh_at == before[account_id].last_refresh_at
    assert rows[current].updated_at == NOW  # already under the active key: untouched
    assert rows[never_fetched].updated_at == later
    # Unreadable rows stay exactly as they were, for an operator to look at.
    assert rows[lost].key_id == "lost"
    assert rows[lost].refresh_token_ciphertext == lost_tokens.refresh_token_ciphertext
    assert rows[forged].key_id == "old"
    assert describe(report)[0] == (
        "active key 'new': 6 tokens re-encrypted, 1 already under it, 2 unreadable"
    )
    assert "refresh-" not in "\n".join(describe(report))

    again = await rotate_tokens(database.sessions, ring, lambda: later, batch_size=2)
    assert (again.rotated, again.already_current, len(again.unreadable)) == (0, 7, 2)


async def test_the_command_rotates_with_the_token_services_key_ring(
    database: Database, tmp_path: Path
) -> None:
    account_id, _ = await database.store("old", OLD, refresh="refresh-1", access="at-1")
    env = {
        "DATABASE_URL": database.url,
        "TOKEN_SERVICE_KEYS": json.dumps({"old": OLD, "new": NEW}),
        "TOKEN_SERVICE_ACTIVE_KEY_ID": "new",
    }
    arguments = ["rotate-tokens", "--data-dir", str(tmp_path), "--batch-size", "1"]
    result = await asyncio.to_thread(CliRunner().invoke, cli, arguments, env=env)
    assert result.exit_code == 0, result.output
    assert "1 tokens re-encrypted, 0 already under it, 0 unreadable" in result.output
    assert (await database.rows())[account_id].key_id == "new"
    # A key ring without the old key cannot read what is left: reported, exit status 1.
    await database.store("old", OLD, refresh="refresh-2", access="at-2")
    env["TOKEN_SERVICE_KEYS"] = json.dumps({"new": NEW})
    result = await asyncio.to_thread(CliRunner().invoke, cli, arguments, env=env)
    assert result.exit_code == 1
    assert "0 tokens re-encrypted, 1 already under it, 1 unreadable" in result.output
    assert "is not in the key ring" in result.output
    assert NEW not in result.output and OLD not in result.output


async def test_the_command_finds_the_key_of_the_embedded_runtime_in_its_data_directory(
    database: Database, tmp_path: Path
) -> None:
    local = LocalSecrets.load_or_create(tmp_path / "secrets.json")
    await database.store(TOKEN_KEY_ID, local.token_key, refresh="refresh-1", access="at-1")
    (tmp_path / "runtime.json").write_text(json.dumps({"database_url": database.url}))
    result = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        ["rotate-tokens", "--data-dir", str(tmp_path)],
        env={"TOKEN_SERVICE_KEYS": None, "TOKEN_SERVICE_ACTIVE_KEY_ID": None, "DATABASE_URL": None},
    )
    assert result.exit_code == 0, result.output
    assert f"active key '{TOKEN_KEY_ID}': 0 tokens re-encrypted, 1 already under it" in (
        result.output
    )


async def test_rotation_re_encrypts_the_signing_keys_private_keys_too(database: Database) -> None:
    old_ring = KeyRing({"old": SecretStr(OLD)}, "old")
    async with database.sessions.begin() as session:
        for key_id, ring in (
            ("sig-1", old_ring),
            ("sig-lost", KeyRing({"old": SecretStr(LOST)}, "old")),
        ):
            session.add(
                EbaySigningKey(
                    signing_key_id=key_id,
                    apiz_base_url="https://apiz.example",
                    cipher="ED25519",
                    jwe="jwe",
                    key_id="old",
                    private_key_ciphertext=ring.encrypt(
                        f"private-{key_id}",
                        account_id=NO_ACCOUNT,
                        purpose=private_key_purpose(key_id),
                    ),
                    created_at=NOW,
                    expires_at=None,
                )
            )
    ring = KeyRing({"old": SecretStr(OLD), "new": SecretStr(NEW)}, "new")
    report = await rotate_tokens(database.sessions, ring, lambda: NOW)
    assert (report.signing_keys_rotated, report.signing_keys_unreadable) == (1, ["sig-lost"])
    async with database.sessions() as session:
        rotated = await session.get(EbaySigningKey, "sig-1")
    assert rotated is not None and rotated.key_id == "new"
    new_only = KeyRing({"new": SecretStr(NEW)}, "new")
    private = new_only.decrypt(
        rotated.private_key_ciphertext,
        key_id="new",
        account_id=NO_ACCOUNT,
        purpose=private_key_purpose("sig-1"),
    )
    assert private.get_secret_value() == "private-sig-1"
    assert "private-" not in "\n".join(describe(report))
