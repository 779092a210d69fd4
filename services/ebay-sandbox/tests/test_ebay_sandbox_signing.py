"""Digital signatures: the base string of eBay's test vector, the JWE codec, Key Management."""

import base64
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from ebay_sandbox.signing import (
    SignedRequest,
    SigningKeys,
    check_signature,
    content_digest,
    signature_base,
)

VECTOR = json.loads((Path(__file__).parent / "contracts" / "signing_test_vector.json").read_text())
KEYS = "/developer/key_management/v1/signing_key"


def vector_request(**changes: Any) -> SignedRequest:
    request = VECTOR["request"]
    values: dict[str, Any] = {
        "method": request["method"],
        "path": request["path"],
        "authority": request["authority"],
        "headers": {k.lower(): v for k, v in VECTOR["headers"].items()},
        "body": request["body"].encode(),
    }
    values.update(changes)
    return SignedRequest(**values)


def vector_key() -> ed25519.Ed25519PublicKey:
    key = serialization.load_pem_public_key(VECTOR["public_key_pem"].encode())
    assert isinstance(key, ed25519.Ed25519PublicKey)
    return key


def test_the_base_string_of_the_test_vector() -> None:
    request = vector_request()
    assert content_digest(request.body) == VECTOR["headers"]["Content-Digest"]
    params = VECTOR["headers"]["Signature-Input"].split("=", 1)[1]
    components = [c.strip('"') for c in params.split(")")[0].strip("(").split()]
    assert signature_base(request, components, params) == VECTOR["signature_base"]


def test_the_test_vector_verifies_and_tampering_does_not() -> None:
    assert check_signature(vector_request(), vector_key())
    assert not check_signature(vector_request(path="/other"), vector_key())
    assert not check_signature(vector_request(authority="apiz.ebay.com"), vector_key())
    assert not check_signature(vector_request(body=b'{"hello": "there"}'), vector_key())
    assert not check_signature(vector_request(method="GET"), vector_key())
    headers = {k.lower(): v for k, v in VECTOR["headers"].items()}
    unsigned_key = dict(
        headers, **{"signature-input": 'sig1=("@method" "@path" "@authority");created=1'}
    )
    assert not check_signature(vector_request(headers=unsigned_key), vector_key())


def test_the_jwe_carries_the_public_key_only_to_its_issuer() -> None:
    keys = SigningKeys(seed=1, secret="s")
    issued = keys.create("ED25519", 1_700_000_000)
    found = keys.public_key(issued.jwe)
    assert isinstance(found, ed25519.Ed25519PublicKey)
    der = found.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert base64.b64encode(der).decode() == issued.public_key
    assert issued.jwe.count(".") == 4, "compact JWE: header, key, iv, ciphertext, tag"
    header = json.loads(base64.urlsafe_b64decode(issued.jwe.split(".")[0] + "=="))
    assert (header["alg"], header["enc"], header["zip"]) == ("A256GCMKW", "A256GCM", "DEF")
    assert SigningKeys(seed=1, secret="s").public_key(issued.jwe) is not None, "same config"
    assert SigningKeys(seed=2, secret="s").public_key(issued.jwe) is None
    assert keys.public_key(VECTOR["jwe_x_ebay_signature_key"]) is None, "eBay's, not ours"
    assert keys.public_key(issued.jwe[:-3] + "abc") is None


async def test_key_management_needs_the_application_scope(
    client: httpx.AsyncClient,
    login: Callable[..., Awaitable[Any]],
    app_token: Callable[[], Awaitable[str]],
) -> None:
    token = await app_token()
    assert token.startswith("v^1.1#")
    app = {"Authorization": f"Bearer {token}"}
    assert (await client.get(KEYS)).status_code == 401
    narrow = await login(scopes="https://api.ebay.com/oauth/api_scope/sell.finances")
    assert (await client.get(KEYS, headers=narrow.headers)).status_code == 403
    resp = await client.post(KEYS, json={"signingKeyCipher": "DSA"}, headers=app)
    assert (resp.status_code, resp.json()["errors"][0]["errorId"]) == (400, 210001)
    resp = await client.post(KEYS, content=b"[]", headers=app)
    assert (resp.status_code, resp.json()["errors"][0]["errorId"]) == (400, 210006)
    resp = await client.get(f"{KEYS}/nope", headers=app)
    assert (resp.status_code, resp.json()["errors"][0]["errorId"]) == (404, 210002)
