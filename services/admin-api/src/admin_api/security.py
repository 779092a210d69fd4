"""Passwords (Argon2id), login tokens and OAuth states (HS256 JWTs, each with its own audience).

A login token can never pass as an OAuth state or the other way round: each has its own
audience. Roles and the token version are read from the database on every request, so a
demoted, deactivated, signed-out or re-passworded user's old tokens stop working at once.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import SecretStr

ALGORITHM = "HS256"
LOGIN_AUDIENCE = "ebaysync-admin"
STATE_AUDIENCE = "ebaysync-oauth-state"


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        # An unknown user still costs one verification, so timing does not reveal emails.
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Argon2 is deliberately slow: verify in a thread, off the event loop."""
    return await asyncio.to_thread(_verify, password_hash, password)


async def hash_password_async(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class LoginClaims:
    user_id: int
    org_id: int
    # The user's token version at issue; a token whose version is not the user's current one
    # was revoked (password change, logout).
    version: int


def issue_login_token(
    secret: SecretStr, user_id: int, org_id: int, now: datetime, ttl: timedelta, version: int = 0
) -> str:
    claims = {
        "sub": str(user_id),
        "org": org_id,
        "ver": version,
        "aud": LOGIN_AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return jwt.encode(claims, secret.get_secret_value(), algorithm=ALGORITHM)


def read_login_token(secret: SecretStr, token: str) -> LoginClaims:
    claims = _decode(secret, token, LOGIN_AUDIENCE)
    try:
        return LoginClaims(
            user_id=int(str(claims["sub"])),
            org_id=int(str(claims["org"])),
            version=int(str(claims.get("ver", 0))),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidToken("malformed token") from exc


def issue_state(secret: SecretStr, nonce: str, expires_at: datetime) -> str:
    """The OAuth ``state``: names the stored nonce, signed, and expiring with it."""
    claims = {"nonce": nonce, "aud": STATE_AUDIENCE, "exp": int(expires_at.timestamp())}
    return jwt.encode(claims, secret.get_secret_value(), algorithm=ALGORITHM)


def read_state(secret: SecretStr, state: str) -> str:
    """The nonce of a genuine, unexpired state."""
    nonce = _decode(secret, state, STATE_AUDIENCE).get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise InvalidToken("malformed state")
    return nonce


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def _decode(secret: SecretStr, token: str, audience: str) -> dict[str, object]:
    try:
        claims: dict[str, object] = jwt.decode(
            token,
            secret.get_secret_value(),
            algorithms=[ALGORITHM],
            audience=audience,
            options={"require": ["exp", "aud"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("invalid") from exc
    return claims
