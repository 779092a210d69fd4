"""Tokens at rest: right key and account or a loud failure, never garbage."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from token_service.crypto import KeyRing, TokenDecryptionError, generate_key

OLD, NEW = generate_key(), generate_key()


def ring(active: str = "k1") -> KeyRing:
    return KeyRing({"k1": SecretStr(OLD), "k2": SecretStr(NEW)}, active)


def test_round_trip() -> None:
    ciphertext = ring().encrypt("v^1.1#i^1#secret", account_id=7, purpose="refresh_token")
    plain = ring().decrypt(ciphertext, key_id="k1", account_id=7, purpose="refresh_token")
    assert plain.get_secret_value() == "v^1.1#i^1#secret"


def test_the_plaintext_is_not_in_the_ciphertext() -> None:
    assert b"secret-token" not in ring().encrypt("secret-token", account_id=1, purpose="x")


def test_decrypting_with_the_wrong_key_fails_loudly() -> None:
    ciphertext = ring("k1").encrypt("token", account_id=7, purpose="refresh_token")
    with pytest.raises(TokenDecryptionError):
        ring().decrypt(ciphertext, key_id="k2", account_id=7, purpose="refresh_token")


def test_a_ciphertext_moved_to_another_account_fails() -> None:
    ciphertext = ring().encrypt("token", account_id=7, purpose="refresh_token")
    with pytest.raises(TokenDecryptionError):
        ring().decrypt(ciphertext, key_id="k1", account_id=8, purpose="refresh_token")


@pytest.mark.parametrize("ciphertext", [b"", b"short", b"0" * 12, b"0" * 40])
def test_a_cut_or_corrupt_ciphertext_fails_as_a_decryption_error(ciphertext: bytes) -> None:
    # A stored row cut short must not escape as another error: a sweep counts it and goes on.
    with pytest.raises(TokenDecryptionError):
        ring().decrypt(ciphertext, key_id="k1", account_id=7, purpose="refresh_token")


def test_an_unknown_key_id_fails() -> None:
    with pytest.raises(TokenDecryptionError):
        ring().decrypt(b"0" * 40, key_id="gone", account_id=7, purpose="refresh_token")


def test_old_tokens_stay_readable_after_the_active_key_rotates() -> None:
    ciphertext = ring("k1").encrypt("token", account_id=7, purpose="access_token")
    rotated = ring("k2")
    assert (
        rotated.decrypt(
            ciphertext, key_id="k1", account_id=7, purpose="access_token"
        ).get_secret_value()
        == "token"
    )


def test_the_key_ring_never_shows_its_keys() -> None:
    assert OLD not in repr(ring()) and NEW not in repr(ring())


def test_a_key_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        KeyRing({"k": SecretStr("c2hvcnQ=")}, "k")
