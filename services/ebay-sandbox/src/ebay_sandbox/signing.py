"""Digital signatures for EU/UK sellers (fact sheet section 5) and the keys behind them.

Key Management hands out key pairs whose public key travels in ``x-ebay-signature-key`` as a
JWE. As at eBay, the JWE is opaque to the caller: the sandbox encrypts the public key with its
own key (A256GCMKW + A256GCM, derived from the seed and client secret, so a restarted sandbox
with the same configuration still accepts the JWEs it issued) and decrypts it to verify.
"""

import base64
import hashlib
import json
import re
import secrets
import zlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_LIFETIME_S = 3 * 365 * 86_400
REQUIRED_COMPONENTS = ("x-ebay-signature-key", "@method", "@path", "@authority")
_SIGNATURE_INPUT = re.compile(r"^\s*([A-Za-z0-9_-]+)=(\(([^)]*)\)(;.*)?)\s*$")
_SIGNATURE = re.compile(r"^\s*([A-Za-z0-9_-]+)=:([A-Za-z0-9+/=]+):\s*$")
PublicKey = ed25519.Ed25519PublicKey | rsa.RSAPublicKey


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A key pair as Key Management returns it (``private_key`` only at creation)."""

    key_id: str
    cipher: str
    public_key: str  # base64 DER SubjectPublicKeyInfo
    private_key: str  # base64 DER PKCS#8
    jwe: str
    created_s: int
    expires_s: int

    def as_json(self, *, with_private_key: bool) -> dict[str, object]:
        """``SigningKey`` of the Key Management API."""
        body: dict[str, object] = {
            "signingKeyId": self.key_id,
            "signingKeyCipher": self.cipher,
            "publicKey": self.public_key,
            "jwe": self.jwe,
            "creationTime": self.created_s,
            "expirationTime": self.expires_s,
        }
        if with_private_key:
            body["privateKey"] = self.private_key
        return body


class SigningKeys:
    """Issued keys, and the JWE codec that maps a JWE back to its public key."""

    def __init__(self, seed: int, secret: str) -> None:
        self._kek = hashlib.sha256(f"ebay-sandbox/{seed}/{secret}/jwe".encode()).digest()
        self._keys: dict[str, SigningKey] = {}

    def create(self, cipher: str, now_s: int) -> SigningKey:
        """A new key pair (``ED25519`` or ``RSA``)."""
        private: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
        if cipher == "ED25519":
            private = ed25519.Ed25519PrivateKey.generate()
        else:
            private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_der = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        private_der = private.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        key_id = secrets.token_hex(16)
        public_b64 = base64.b64encode(public_der).decode()
        key = SigningKey(
            key_id=key_id,
            cipher=cipher,
            public_key=public_b64,
            private_key=base64.b64encode(private_der).decode(),
            jwe=self._seal({"kid": key_id, "cipher": cipher, "pkey": public_b64}),
            created_s=now_s,
            expires_s=now_s + KEY_LIFETIME_S,
        )
        self._keys[key_id] = key
        return key

    def get(self, key_id: str) -> SigningKey | None:
        """An issued key by id."""
        return self._keys.get(key_id)

    def all(self) -> list[SigningKey]:
        """Every issued key."""
        return list(self._keys.values())

    def _seal(self, claims: dict[str, str]) -> str:
        cek, wrap_iv, iv = secrets.token_bytes(32), secrets.token_bytes(12), secrets.token_bytes(12)
        wrapped = AESGCM(self._kek).encrypt(wrap_iv, cek, None)
        header = {
            "zip": "DEF",
            "enc": "A256GCM",
            "tag": _b64url(wrapped[-16:]),
            "alg": "A256GCMKW",
            "iv": _b64url(wrap_iv),
        }
        protected = _b64url(json.dumps(header, separators=(",", ":")).encode())
        payload = zlib.compress(json.dumps(claims).encode())[2:-4]  # raw DEFLATE, as JWE zip
        sealed = AESGCM(cek).encrypt(iv, payload, protected.encode())
        parts = (protected, _b64url(wrapped[:-16]), _b64url(iv), _b64url(sealed[:-16]))
        return ".".join((*parts, _b64url(sealed[-16:])))

    def public_key(self, jwe: str) -> PublicKey | None:
        """The public key inside a JWE this sandbox issued; None for anything else."""
        try:
            protected, wrapped, iv, ciphertext, tag = jwe.strip().split(".")
            header = json.loads(_unb64url(protected))
            if header.get("alg") != "A256GCMKW" or header.get("enc") != "A256GCM":
                return None
            cek = AESGCM(self._kek).decrypt(
                _unb64url(header["iv"]), _unb64url(wrapped) + _unb64url(header["tag"]), None
            )
            payload = AESGCM(cek).decrypt(
                _unb64url(iv), _unb64url(ciphertext) + _unb64url(tag), protected.encode()
            )
            claims = json.loads(zlib.decompress(payload, wbits=-15))
            key = serialization.load_der_public_key(base64.b64decode(claims["pkey"]))
        except (ValueError, KeyError, TypeError, InvalidTag, zlib.error):
            return None
        return key if isinstance(key, ed25519.Ed25519PublicKey | rsa.RSAPublicKey) else None


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What a signature covers."""

    method: str
    path: str
    authority: str
    headers: dict[str, str]  # lower-case names
    body: bytes


def content_digest(body: bytes) -> str:
    """``Content-Digest`` value for ``body``."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def signature_base(request: SignedRequest, components: list[str], params: str) -> str | None:
    """The signature base string (None when a covered component is missing)."""
    lines = []
    for name in components:
        if name == "@method":
            value: str | None = request.method.upper()
        elif name == "@path":
            value = request.path
        elif name == "@authority":
            value = request.authority
        else:
            value = request.headers.get(name)
        if value is None:
            return None
        lines.append(f'"{name}": {value}')
    lines.append(f'"@signature-params": {params}')
    return "\n".join(lines)


def verify_with_key(key: PublicKey, signature: bytes, base: str) -> bool:
    """Ed25519, or RSASSA-PKCS1-v1_5 with SHA-256 (as eBay's verifier)."""
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, base.encode())
        else:
            key.verify(signature, base.encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def check_signature(request: SignedRequest, key: PublicKey) -> bool:
    """Whether the request carries a valid signature by ``key`` over the required parts."""
    found_input = _SIGNATURE_INPUT.match(request.headers.get("signature-input", ""))
    found_sig = _SIGNATURE.match(request.headers.get("signature", ""))
    if found_input is None or found_sig is None or found_input[1] != found_sig[1]:
        return False
    components = [c.strip('"') for c in found_input[3].split()]
    needed = list(REQUIRED_COMPONENTS) + (["content-digest"] if request.body else [])
    if any(c not in components for c in needed):
        return False
    if "content-digest" in components and request.headers.get("content-digest") != content_digest(
        request.body
    ):
        return False
    base = signature_base(request, components, found_input[2])
    if base is None:
        return False
    try:
        signature = base64.b64decode(found_sig[2], validate=True)
    except ValueError:
        return False
    return verify_with_key(key, signature, base)
