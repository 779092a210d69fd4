"""Encryption of OAuth tokens at rest: AES-256-GCM with a key ring addressed by key id.

Each ciphertext is bound (as associated data) to its account and purpose, so a ciphertext copied
to another row or decrypted with another key fails loudly instead of yielding garbage that would
reach eBay as a token.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr

NONCE_BYTES = 12


class TokenDecryptionError(Exception):
    """A stored token could not be decrypted: unknown key id, wrong key or tampered data."""


class KeyRing:
    def __init__(self, keys: Mapping[str, SecretStr], active_key_id: str) -> None:
        self._keys = {kid: AESGCM(_decode_key(kid, key)) for kid, key in keys.items()}
        if active_key_id not in self._keys:
            raise ValueError(f"active key id {active_key_id!r} is not in the key ring")
        self.active_key_id = active_key_id

    def __repr__(self) -> str:
        return f"KeyRing(key_ids={sorted(self._keys)}, active={self.active_key_id!r})"

    def encrypt(self, plaintext: str, *, account_id: int, purpose: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        aad = _associated_data(account_id, purpose)
        return nonce + self._keys[self.active_key_id].encrypt(nonce, plaintext.encode(), aad)

    def decrypt(
        self, ciphertext: bytes, *, key_id: str, account_id: int, purpose: str
    ) -> SecretStr:
        aead = self._keys.get(key_id)
        if aead is None:
            raise TokenDecryptionError(f"key id {key_id!r} is not in the key ring")
        nonce, body = ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:]
        try:
            plaintext = aead.decrypt(nonce, body, _associated_data(account_id, purpose))
        except (InvalidTag, ValueError) as exc:  # ValueError: cut short (no whole nonce)
            raise TokenDecryptionError(
                f"{purpose} of account {account_id} does not decrypt with key {key_id!r}"
            ) from exc
        return SecretStr(plaintext.decode())


def generate_key() -> str:
    """A new random key, base64-encoded as the settings expect it."""
    return base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()


def _decode_key(key_id: str, key: SecretStr) -> bytes:
    raw = base64.b64decode(key.get_secret_value(), validate=True)
    if len(raw) != 32:
        raise ValueError(f"key {key_id!r} must be 32 bytes of base64, got {len(raw)} bytes")
    return raw


def _associated_data(account_id: int, purpose: str) -> bytes:
    return f"ebaysync:{account_id}:{purpose}".encode()
