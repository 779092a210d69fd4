"""Shared request parsing and page assembly for the REST collections."""

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import orjson

from ebay_sandbox.clock import to_ms

_INTEGER = re.compile(r"^\s*-?\d+\s*$")
_TIMESTAMP = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$")
Json = dict[str, Any]


def int_param(raw: str | None, *, default: int, low: int, high: int | None) -> int | None:
    """The integer in ``raw`` (``default`` if absent); None when malformed or out of range."""
    if raw is None or raw == "":
        return default
    if not _INTEGER.match(raw):
        return None
    value = int(raw)
    return value if value >= low and (high is None or value <= high) else None


def parse_timestamp(text: str, *, round_up: bool = False) -> int:
    """eBay ISO-8601 UTC timestamp (``...Z``) to epoch ms; sub-ms digits round inward.

    Raises ValueError for anything else (eBay wants the ``Z``)."""
    match = _TIMESTAMP.match(text.strip())
    if match is None:
        raise ValueError(text)
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction = (match.group(7) or "").ljust(9, "0")
    ms = to_ms(datetime(year, month, day, hour, minute, second, tzinfo=UTC))
    ms += int(fraction[:3])
    return ms + 1 if round_up and int(fraction[3:]) else ms


def page_url(
    base: str, path: str, params: Sequence[tuple[str, str]], limit: int, offset: int
) -> str:
    """URL of one page of a collection (filters kept, limit/offset appended)."""
    query = urlencode(
        [*params, ("limit", str(limit)), ("offset", str(offset))], quote_via=quote, safe=":,"
    )
    return f"{base}{path}?{query}"


def page_head(
    base: str,
    path: str,
    params: Sequence[tuple[str, str]],
    *,
    limit: int,
    offset: int,
    total: int,
    returned: int,
) -> Json:
    """``href``, ``limit``, ``offset``, ``total`` and ``next``/``prev`` when they exist."""
    head: Json = {
        "href": page_url(base, path, params, limit, offset),
        "total": total,
        "limit": limit,
        "offset": offset,
    }
    if offset + returned < total:
        head["next"] = page_url(base, path, params, limit, offset + max(returned, limit))
    if offset > 0:
        head["prev"] = page_url(base, path, params, limit, max(0, offset - limit))
    return head


def dumps(value: object) -> bytes:
    """Compact JSON."""
    return orjson.dumps(value)


def collection(head: Json, key: str, items: Sequence[bytes], tail: Json | None = None) -> bytes:
    """``{...head, key: [items], ...tail}`` with the items spliced in pre-serialized."""
    parts = [dumps(head)[:-1], b',"', key.encode(), b'":[', b",".join(items), b"]"]
    if len(head) == 0:
        parts[1] = b'"'
    if tail:
        parts.append(b"," + dumps(tail)[1:-1])
    parts.append(b"}")
    return b"".join(parts)


def money(cents: int, currency: str) -> Json:
    """eBay ``Amount``: value is a decimal string such as ``"12.50"``."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return {"value": f"{sign}{cents // 100}.{cents % 100:02d}", "currency": currency}
