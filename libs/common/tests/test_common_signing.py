"""eBay digital signatures (fact sheet §5) against eBay's published test vector: pure."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from pydantic import SecretStr

from common.ebay.signing import (
    SigningKey,
    content_digest,
    sign,
    signature_base,
    signature_headers,
    signature_params,
)
from ebay_sandbox.signing import SignedRequest, check_signature

# Copied from ../shared/ebay-contracts/signing/ (verified there by verify_vectors.py).
VECTOR_PATH = Path(__file__).parent / "contracts" / "digital_signature_test_vector.json"


@pytest.fixture(scope="module")
def vector() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(VECTOR_PATH.read_text())
    return loaded


def vector_key(vector: dict[str, Any]) -> SigningKey:
    return SigningKey(
        signing_key_id="vector",
        cipher="ED25519",
        jwe=vector["jwe_x_ebay_signature_key"],
        private_key=SecretStr(vector["private_key_pem"]),
    )


def created_of(vector: dict[str, Any]) -> datetime:
    created = int(vector["headers"]["Signature-Input"].rsplit("created=", 1)[1])
    return datetime.fromtimestamp(created, UTC)


def test_the_signature_base_is_the_vectors(vector: dict[str, Any]) -> None:
    request, headers = vector["request"], vector["headers"]
    components = ["content-digest", "x-ebay-signature-key", "@method", "@path", "@authority"]
    params = signature_params(components, int(created_of(vector).timestamp()))
    assert f"sig1={params}" == headers["Signature-Input"]
    digest = content_digest(request["body"].encode())
    assert digest == headers["Content-Digest"]
    base = signature_base(
        [
            ("content-digest", digest),
            ("x-ebay-signature-key", headers["x-ebay-signature-key"]),
            ("@method", request["method"]),
            ("@path", request["path"]),
            ("@authority", request["authority"]),
        ],
        params,
    )
    assert base == vector["signature_base"]
    # Ed25519 is deterministic: the same key over the same base gives eBay's signature.
    expected = headers["Signature"].split(":")[1]
    assert base64.b64encode(sign(SecretStr(vector["private_key_pem"]), base)).decode() == expected


def test_signature_headers_for_the_vectors_request_are_the_vectors(vector: dict[str, Any]) -> None:
    request = vector["request"]
    headers = signature_headers(
        vector_key(vector),
        method=request["method"],
        url=f"http://{request['authority']}{request['path']}",
        body=request["body"].encode(),
        created=created_of(vector),
    )
    expected = vector["headers"]
    assert headers == {
        "x-ebay-signature-key": expected["x-ebay-signature-key"],
        "Content-Digest": expected["Content-Digest"],
        "Signature-Input": expected["Signature-Input"],
        "Signature": expected["Signature"],
    }


def der_b64(private: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey) -> SecretStr:
    der = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return SecretStr(base64.b64encode(der).decode())


def signed_get(key: SigningKey, url: str) -> tuple[dict[str, str], str]:
    headers = signature_headers(key, method="get", url=url, created=datetime.now(UTC))
    signature = base64.b64decode(headers["Signature"].split(":")[1])
    params = headers["Signature-Input"].removeprefix("sig1=")
    base = signature_base(
        [
            ("x-ebay-signature-key", key.jwe),
            ("@method", "GET"),
            ("@path", "/sell/finances/v1/transaction"),
            ("@authority", "apiz.ebay.com"),
        ],
        params,
    )
    assert signature  # checked by the caller with the public key
    return headers, base


def test_a_get_is_signed_without_a_digest_and_without_its_query() -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    key = SigningKey("k", "ED25519", "the.jwe", der_b64(private))
    url = "https://apiz.ebay.com/sell/finances/v1/transaction?filter=transactionDate:[a..b]"
    headers, base = signed_get(key, url)
    assert "Content-Digest" not in headers
    assert headers["Signature-Input"].startswith(
        'sig1=("x-ebay-signature-key" "@method" "@path" "@authority");created='
    )
    private.public_key().verify(base64.b64decode(headers["Signature"].split(":")[1]), base.encode())


def test_rsa_keys_sign_with_pkcs1_v1_5_and_sha256() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = SigningKey("k", "RSA", "the.jwe", der_b64(private))
    headers, base = signed_get(key, "https://apiz.ebay.com/sell/finances/v1/transaction")
    private.public_key().verify(
        base64.b64decode(headers["Signature"].split(":")[1]),
        base.encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


def test_the_sandboxs_own_verifier_accepts_a_signed_get() -> None:
    # A second implementation of eBay's check (the simulator's) agrees with ours.
    private = ed25519.Ed25519PrivateKey.generate()
    key = SigningKey("k", "ED25519", "the.jwe", der_b64(private))
    headers = signature_headers(
        key, method="GET", url="http://127.0.0.1:8123/sell/finances/v1/payout?limit=200"
    )
    request = SignedRequest(
        method="GET",
        path="/sell/finances/v1/payout",
        authority="127.0.0.1:8123",
        headers={name.lower(): value for name, value in headers.items()},
        body=b"",
    )
    assert check_signature(request, private.public_key())
    other = ed25519.Ed25519PrivateKey.generate().public_key()
    assert not check_signature(request, other)
