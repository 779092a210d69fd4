"""Deterministic pseudo-random helpers: seeded RNGs, scrambled numeric ids, token strings."""

import hashlib
import random
import secrets
from functools import lru_cache

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def rng(*parts: object) -> random.Random:
    """RNG seeded from the parts; str seeds hash with SHA-512, so it is stable across processes."""
    return random.Random("/".join(str(p) for p in parts))


@lru_cache(maxsize=256)
def _key_ints(key: str, count: int, modulus: int) -> tuple[int, ...]:
    digest = hashlib.sha256(key.encode()).digest()
    return tuple(int.from_bytes(digest[i * 8 : (i + 1) * 8], "big") % modulus for i in range(count))


def _unit(value: int, modulus: int) -> int:
    """Nearest value >= ``value`` coprime with ``modulus`` (a power of ten)."""
    value |= 1
    while value % 5 == 0:
        value += 2
    return value % modulus


def scramble(number: int, digits: int, key: str) -> int:
    """Keyed bijection on ``[0, 10**digits)``, so distinct inputs always give distinct ids."""
    modulus = 10**digits
    a1, b1, a2, b2 = _key_ints(key, 4, modulus)
    x = (_unit(a1, modulus) * number + b1) % modulus
    x = int(str(x).zfill(digits)[::-1])  # digit reversal is a bijection too and mixes high/low
    result: int = (_unit(a2, modulus) * x + b2) % modulus
    return result


def unscramble(value: int, digits: int, key: str) -> int:
    """Inverse of :func:`scramble`: the number an id was made from (ids decode to their entity)."""
    modulus = 10**digits
    a1, b1, a2, b2 = _key_ints(key, 4, modulus)
    x = ((value - b2) * pow(_unit(a2, modulus), -1, modulus)) % modulus
    x = int(str(x).zfill(digits)[::-1])
    number: int = ((x - b1) * pow(_unit(a1, modulus), -1, modulus)) % modulus
    return number


def base62(key: str, length: int) -> str:
    """Stable base62 string derived from ``key``."""
    value = int.from_bytes(hashlib.sha256(key.encode()).digest(), "big")
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 62)
        chars.append(_BASE62[rem])
    return "".join(chars)


def opaque_token(kind: str) -> str:
    """Random token in eBay's ``v^1.1#i^1#...`` shape; ``kind`` picks the r^ flag."""
    flag = {"access": "r^0", "refresh": "r^1", "code": "r^1"}[kind]
    head = "t^H4sIAAAAAAAA" if kind == "access" else "t^Ul4xMF8"
    return f"v^1.1#i^1#p^3#{flag}#I^3#f^0#{head}{secrets.token_urlsafe(48)}"
