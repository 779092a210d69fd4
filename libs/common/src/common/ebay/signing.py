"""eBay digital signatures (fact sheet §5): RFC 9421 HTTP message signatures on eBay calls.

Sellers domiciled in the EU or UK must sign every Finances call (and a few others). A signature
covers ``x-ebay-signature-key`` (the JWE of a Key Management key pair), the method, the path
and the authority (plus ``content-digest`` when there is a body) and is made with the key
pair's private key: Ed25519, or RSASSA-PKCS1-v1_5 with SHA-256 as eBay's verifier expects.
No well-kept HTTP-message-signature library is installed, and eBay's profile is small, so the
base string is built here and proved against eBay's published test vector.

Also the Key Management client (``createSigningKey``): only the token service calls it, with an
application token, and keeps the key pair encrypted.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import orjson
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from pydantic import SecretStr

from common.ebay.errors import EbayPayloadError, EbayTransientError
from common.ebay.rest import raise_for_status

SIGNING_KEY_PATH = "/developer/key_management/v1/signing_key"
ED25519 = "ED25519"
RSA = "RSA"
SIGNATURE_LABEL = "sig1"


@dataclass(frozen=True)
class SigningKey:
    """A Key Management key pair as a caller signs with it."""

    signing_key_id: str
    cipher: str  # ED25519 | RSA
    # Opaque to us: eBay's encryption of the public key, sent as ``x-ebay-signature-key``.
    jwe: str
    # base64 of the PKCS#8 DER private key as Key Management hands it out (or PEM).
    private_key: SecretStr
    expires_at: datetime | None = None


def content_digest(body: bytes) -> str:
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def signature_params(components: Sequence[str], created: int) -> str:
    """The ``@signature-params`` value, also the ``Signature-Input`` after ``sig1=``."""
    return "(" + " ".join(f'"{c}"' for c in components) + f");created={created}"


def signature_base(values: Sequence[tuple[str, str]], params: str) -> str:
    """RFC 9421 §2.5: one ``"<name>": <value>`` line per component, then the parameters."""
    lines = [f'"{name}": {value}' for name, value in values]
    lines.append(f'"@signature-params": {params}')
    return "\n".join(lines)


def load_private_key(private_key: SecretStr) -> PrivateKeyTypes:
    """Key Management's private key: base64 PKCS#8 DER, or the PEM eBay advises storing."""
    text = private_key.get_secret_value().strip()
    if text.startswith("-----BEGIN"):
        return serialization.load_pem_private_key(text.encode(), password=None)
    return serialization.load_der_private_key(base64.b64decode(text), password=None)


def sign(private_key: SecretStr, base: str) -> bytes:
    """The signature of ``base`` (Ed25519, or RSA PKCS#1 v1.5 with SHA-256)."""
    key = load_private_key(private_key)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(base.encode())
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(base.encode(), padding.PKCS1v15(), hashes.SHA256())
    raise ValueError(f"unsupported signing key type {type(key).__name__}")


def signature_headers(
    key: SigningKey,
    *,
    method: str,
    url: str,
    body: bytes | None = None,
    created: datetime | None = None,
) -> dict[str, str]:
    """The headers that sign one request to ``url`` (the query string is not covered)."""
    target = httpx.URL(url)
    headers = {"x-ebay-signature-key": key.jwe}
    # The components eBay verifies, in eBay's order; content-digest leads when there is a body.
    values: list[tuple[str, str]] = []
    if body:
        headers["Content-Digest"] = content_digest(body)
        values.append(("content-digest", headers["Content-Digest"]))
    values += [
        ("x-ebay-signature-key", key.jwe),
        ("@method", method.upper()),
        ("@path", target.path),
        # host[:port] exactly as httpx sends it in the Host header.
        ("@authority", target.netloc.decode()),
    ]
    stamp = int((created or datetime.now(UTC)).timestamp())
    params = signature_params([name for name, _ in values], stamp)
    signature = sign(key.private_key, signature_base(values, params))
    headers["Signature-Input"] = f"{SIGNATURE_LABEL}={params}"
    headers["Signature"] = f"{SIGNATURE_LABEL}=:{base64.b64encode(signature).decode()}:"
    return headers


class KeyManagementClient:
    """Key Management ``createSigningKey`` (apiz host), called with an application token."""

    def __init__(self, http: httpx.AsyncClient, apiz_base_url: str) -> None:
        self._http = http
        self._url = f"{apiz_base_url}{SIGNING_KEY_PATH}"

    async def create_signing_key(self, app_token: SecretStr, cipher: str = ED25519) -> SigningKey:
        try:
            response = await self._http.post(
                self._url,
                json={"signingKeyCipher": cipher},
                headers={
                    "Authorization": f"Bearer {app_token.get_secret_value()}",
                    "Accept": "application/json",
                },
            )
        except httpx.TransportError as exc:
            raise EbayTransientError(f"{type(exc).__name__} calling {self._url}") from exc
        raise_for_status(response)
        try:
            body = orjson.loads(response.content)
            expires = body.get("expirationTime")
            return SigningKey(
                signing_key_id=str(body["signingKeyId"]),
                cipher=str(body["signingKeyCipher"]),
                jwe=str(body["jwe"]),
                private_key=SecretStr(str(body["privateKey"])),
                # Key Management states times in epoch seconds.
                expires_at=datetime.fromtimestamp(expires, UTC)
                if isinstance(expires, int)
                else None,
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise EbayPayloadError("createSigningKey answered without a key pair") from exc
