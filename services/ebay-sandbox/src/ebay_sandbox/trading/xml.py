"""Building Trading XML responses (as strings: fast, and element order is exactly eBay's)."""

from collections.abc import Iterable
from xml.sax.saxutils import escape, quoteattr

from ebay_sandbox.clock import iso_ms

NAMESPACE = "urn:ebay:apis:eBLBaseComponents"
VERSION = "1355"
BUILDS = {
    "GetMyeBaySelling": "E1355_CORE_APISELLING_19187371_R1",
    "GetMyMessages": "E1355_CORE_APIMSG_19187371_R1",
    "GetMyeBayBuying": "E1355_CORE_APIBUYING_19187371_R1",
    "GetUser": "E1355_CORE_APIUSER_19187371_R1",
}
DEFAULT_BUILD = "E1355_CORE_API_19187371_R1"
MEDIA_TYPE = "text/xml;charset=utf-8"


def el(name: str, value: object, **attrs: str) -> str:
    """``<name attr="…">value</name>``; booleans as ``true``/``false``."""
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    attributes = "".join(f" {k}={quoteattr(v)}" for k, v in attrs.items())
    return f"<{name}{attributes}>{escape(text)}</{name}>"


def node(name: str, children: Iterable[str]) -> str:
    """``<name>children</name>``."""
    return f"<{name}>{''.join(children)}</{name}>"


def money(name: str, cents: int, currency: str) -> str:
    """Trading amount: ``<Name currencyID="USD">12.5</Name>`` (a plain decimal)."""
    return el(name, f"{cents // 100}.{cents % 100:02d}", currencyID=currency)


def time_el(name: str, ms: int) -> str:
    """A ``dateTime`` element in eBay's format."""
    return el(name, iso_ms(ms))


def error_block(
    code: int,
    short: str,
    long: str,
    *,
    params: tuple[str, ...] = (),
    classification: str = "RequestError",
    severity: str = "Error",
) -> str:
    """One ``<Errors>`` element."""
    parts = [el("ShortMessage", short), el("LongMessage", long), el("ErrorCode", code)]
    parts.append(el("SeverityCode", severity))
    parts += [
        f'<ErrorParameters ParamID="{i}">{el("Value", v)}</ErrorParameters>'
        for i, v in enumerate(params)
    ]
    parts.append(el("ErrorClassification", classification))
    return node("Errors", parts)


def envelope(
    call: str,
    now_ms: int,
    payload: str,
    *,
    ack: str = "Success",
    errors: str = "",
    correlation_id: str | None = None,
) -> bytes:
    """A complete ``<{call}Response>`` document (AbstractResponseType order: Timestamp, Ack,
    CorrelationID, Errors, Version, Build, then the call's own elements)."""
    correlation = el("CorrelationID", correlation_id) if correlation_id else ""
    head = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{call}Response xmlns="{NAMESPACE}">'
        f"{time_el('Timestamp', now_ms)}{el('Ack', ack)}{correlation}{errors}"
        f"{el('Version', VERSION)}{el('Build', BUILDS.get(call, DEFAULT_BUILD))}"
    )
    return f"{head}{payload}</{call}Response>".encode()


def duration(ms: int) -> str:
    """ISO-8601 duration as Trading's TimeLeft: ``P27DT3H12M5S``, ``PT28M17S``."""
    seconds = max(0, ms // 1000)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    time = "".join(f"{v}{u}" for v, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if v)
    return f"P{f'{days}D' if days else ''}T{time or '0S'}"
