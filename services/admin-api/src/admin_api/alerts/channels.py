"""Where notices go: email over SMTP (aiosmtplib) and a generic webhook signed with HMAC.

A channel's secret (SMTP password, webhook signing key) is stored encrypted with AES-GCM under
a key derived from ``ADMIN_API_JWT_SECRET`` (HKDF), bound to the org, and is never returned by
the API nor written to a log: errors are reported by kind and SMTP reply code only.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Literal

import aiosmtplib
import httpx
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel, ConfigDict, Field, SecretStr

TlsMode = Literal["none", "starttls", "tls"]
SIGNATURE_HEADER = "X-Ebaysync-Signature"
_SECRET_VERSION = "v1"


class EmailConfig(BaseModel):
    """SMTP settings of an email channel, without the password."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1, max_length=255)
    port: int = Field(default=587, ge=1, le=65535)
    # none: plain SMTP (loopback relays only); starttls: upgrade on the submission port;
    # tls: implicit TLS from the first byte (port 465).
    tls_mode: TlsMode = "starttls"
    username: str | None = Field(default=None, max_length=255)
    from_address: str = Field(min_length=3, max_length=255, pattern=r"^[^@\s]+@[^@\s]+$")


class WebhookConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2000, pattern=r"^https?://\S+$")


@dataclass(frozen=True)
class Notice:
    title: str
    body: str
    # The JSON a webhook receives: rule, subject, event, org, times.
    data: dict[str, Any]


class DeliveryError(Exception):
    """The channel refused or could not be reached; the message never holds a secret."""


class SecretBox:
    """Encrypts channel secrets for the database; each ciphertext is bound to its org."""

    def __init__(self, master: SecretStr) -> None:
        self._aead = AESGCM(
            HKDF(
                algorithm=hashes.SHA256(),
                length=32,
                salt=None,
                info=b"ebaysync alert channel secrets",
            ).derive(master.get_secret_value().encode())
        )

    def seal(self, org_id: int, secret: SecretStr) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, secret.get_secret_value().encode(), _aad(org_id))
        return f"{_SECRET_VERSION}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, org_id: int, stored: str) -> SecretStr:
        version, _, encoded = stored.partition(":")
        raw = base64.b64decode(encoded) if version == _SECRET_VERSION else b""
        try:
            return SecretStr(self._aead.decrypt(raw[:12], raw[12:], _aad(org_id)).decode())
        except (InvalidTag, ValueError) as exc:
            # The JWT secret changed since it was stored: the admin must set it again.
            raise DeliveryError("the channel's secret cannot be read: set it again") from exc


def _aad(org_id: int) -> bytes:
    return f"org:{org_id}".encode()


def signature(secret: SecretStr, timestamp: int, body: bytes) -> str:
    """``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``: the receiver recomputes it
    and rejects old timestamps, so a captured request cannot be replayed later."""
    mac = hmac.new(secret.get_secret_value().encode(), f"{timestamp}.".encode() + body, "sha256")
    return f"t={timestamp},v1={mac.hexdigest()}"


async def send_webhook(
    http: httpx.AsyncClient,
    config: WebhookConfig,
    secret: SecretStr | None,
    notice: Notice,
    within: float,
) -> None:
    body = json.dumps(
        {"title": notice.title, "text": notice.body, **notice.data}, separators=(",", ":")
    ).encode()
    headers = {"content-type": "application/json", "user-agent": "ebaysync-alerts"}
    if secret is not None:
        headers[SIGNATURE_HEADER] = signature(secret, int(time.time()), body)
    try:
        response = await http.post(config.url, content=body, headers=headers, timeout=within)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"webhook unreachable: {type(exc).__name__}") from None
    if not response.is_success:
        raise DeliveryError(f"webhook answered HTTP {response.status_code}")


async def send_email(
    config: EmailConfig, password: SecretStr | None, to: str, notice: Notice, within: float
) -> None:
    message = EmailMessage()
    message["From"] = config.from_address
    message["To"] = to
    message["Subject"] = f"[ebaysync] {notice.title}"
    message.set_content(notice.body)
    try:
        await aiosmtplib.send(
            message,
            hostname=config.host,
            port=config.port,
            username=config.username,
            password=password.get_secret_value() if password is not None else None,
            use_tls=config.tls_mode == "tls",
            start_tls=config.tls_mode == "starttls",
            timeout=within,
        )
    except aiosmtplib.SMTPResponseException as exc:
        # The reply code only: a server's text may echo what it was sent.
        raise DeliveryError(f"SMTP server refused: {exc.code}") from None
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP server unreachable: {type(exc).__name__}") from None
