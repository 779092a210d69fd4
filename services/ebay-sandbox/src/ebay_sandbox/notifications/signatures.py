"""The three proofs of eBay's push channel (fact sheet notifications §3, §4, §7.4).

- endpoint challenge: ``hex(sha256(challengeCode + verificationToken + endpoint))``;
- REST ``X-EBAY-SIGNATURE``: base64 of ``{"alg","kid","signature","digest"}``, the signature an
  ECDSA (P-256) DER signature over the body bytes, which the sandbox sends as compact JSON in
  the order it builds them, so verifiers that re-serialise (eBay's SDKs) and verifiers of the
  raw body both succeed; the hash is the one ``getPublicKey`` names (``digest``, SHA1 as in
  eBay's vectors);
- Trading ``NotificationSignature``: ``base64(md5(Timestamp + DevID + AppID + CertID))``.
"""

import base64
import hashlib
import json
import uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

_CURVE_ORDER = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA1": hashes.SHA1,
    "SHA256": hashes.SHA256,
}


def challenge_response(challenge_code: str, verification_token: str, endpoint: str) -> str:
    """What the endpoint must answer in ``{"challengeResponse": …}``."""
    return hashlib.sha256((challenge_code + verification_token + endpoint).encode()).hexdigest()


def trading_signature(timestamp: str, dev_id: str, app_id: str, cert_id: str) -> str:
    """Trading ``NotificationSignature`` for the Body's ``<Timestamp>`` (KB 1201)."""
    digest = hashlib.md5((timestamp + dev_id + app_id + cert_id).encode()).digest()
    return base64.b64encode(digest).decode()


def one_line_pem(public_key: ec.EllipticCurvePublicKey) -> str:
    """PEM without line breaks, as ``getPublicKey`` returns it."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return f"-----BEGIN PUBLIC KEY-----{base64.b64encode(der).decode()}-----END PUBLIC KEY-----"


class PushKeys:
    """The application's notification signing keys; derived from the seed and client secret,
    so a restarted sandbox signs with the key ids receivers have cached."""

    def __init__(self, seed: int, secret: str, digest: str = "SHA1") -> None:
        if digest not in _HASHES:
            raise ValueError(f"unsupported digest {digest!r}")
        self.digest = digest
        self._keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.current_kid = self.add_key(f"{seed}/{secret}/0")

    def add_key(self, material: str) -> str:
        """A new key pair from ``material``; returns its key id (used for rotation)."""
        raw = hashlib.sha256(f"ebay-sandbox/notification-key/{material}".encode()).digest()
        private = ec.derive_private_key(
            int.from_bytes(raw, "big") % (_CURVE_ORDER - 1) + 1, ec.SECP256R1()
        )
        kid = str(uuid.UUID(bytes=hashlib.sha256(raw).digest()[:16], version=4))
        self._keys[kid] = private
        return kid

    def rotate(self) -> str:
        """Sign with a new key from now on (old key ids stay resolvable)."""
        self.current_kid = self.add_key(f"rotation/{len(self._keys)}/{self.current_kid}")
        return self.current_kid

    def public_key(self, kid: str) -> dict[str, str] | None:
        """``getPublicKey``'s ``PublicKey`` for ``kid``, or None when unknown."""
        private = self._keys.get(kid)
        if private is None:
            return None
        return {
            "key": one_line_pem(private.public_key()),
            "algorithm": "ECDSA",
            "digest": self.digest,
        }

    def signature_header(self, body: bytes) -> str:
        """``X-EBAY-SIGNATURE`` for ``body``."""
        private = self._keys[self.current_kid]
        signature = private.sign(body, ec.ECDSA(_HASHES[self.digest]()))
        header = {
            "alg": "ecdsa",
            "kid": self.current_kid,
            "signature": base64.b64encode(signature).decode(),
            "digest": self.digest,
        }
        return base64.b64encode(json.dumps(header, separators=(",", ":")).encode()).decode()
