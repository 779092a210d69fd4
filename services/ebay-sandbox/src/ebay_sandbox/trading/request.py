"""Trading request checks: headers, XML body and the small parsing helpers calls share."""

from dataclasses import dataclass
from xml.etree import ElementTree

from fastapi import Request

from ebay_sandbox.paging import parse_timestamp
from ebay_sandbox.trading.errors import TradingError, invalid_input
from ebay_sandbox.trading.xml import NAMESPACE

NS = {"e": NAMESPACE}
SITES = {
    0: "US",
    2: "Canada",
    3: "UK",
    15: "Australia",
    16: "Austria",
    23: "Belgium_French",
    71: "France",
    77: "Germany",
    100: "eBayMotors",
    101: "Italy",
    123: "Belgium_Dutch",
    146: "Netherlands",
    186: "Spain",
    193: "Switzerland",
    201: "HongKong",
    203: "India",
    205: "Ireland",
    207: "Malaysia",
    210: "CanadaFrench",
    211: "Philippines",
    212: "Poland",
    216: "Singapore",
}
CALLS = frozenset(
    {
        "GetMyeBaySelling",
        "GetItem",
        "GetMyMessages",
        "GetMyeBayBuying",
        "GetUser",
        "SetNotificationPreferences",
        "GetNotificationPreferences",
    }
)


@dataclass(frozen=True)
class TradingRequest:
    """A Trading request that passed the generic checks."""

    call: str
    site_id: int
    compatibility_level: int
    root: ElementTree.Element

    def find(self, path: str) -> ElementTree.Element | None:
        """Child element by a ``/``-separated path of local names."""
        return self.root.find("/".join(f"e:{p}" for p in path.split("/")), NS)

    def text(self, path: str) -> str | None:
        """Stripped text of a child element, or None."""
        element = self.find(path)
        return element.text.strip() if element is not None and element.text else None

    def texts(self, path: str) -> list[str]:
        """Texts of every element matching ``path``."""
        elements = self.root.findall("/".join(f"e:{p}" for p in path.split("/")), NS)
        return [e.text.strip() for e in elements if e.text and e.text.strip()]

    def integer(self, path: str, *, default: int, low: int, high: int) -> int:
        """An integer field within ``[low, high]`` (error 37 otherwise)."""
        raw = self.text(path)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise invalid_input(path.rsplit("/", 1)[-1]) from None
        if not low <= value <= high:
            raise invalid_input(path.rsplit("/", 1)[-1])
        return value

    def time(self, path: str) -> int | None:
        """A ``dateTime`` field as epoch ms (error 37 when malformed)."""
        raw = self.text(path)
        if raw is None:
            return None
        try:
            return parse_timestamp(raw if raw.endswith("Z") else raw + "Z")
        except ValueError:
            raise invalid_input(path.rsplit("/", 1)[-1]) from None

    def flag(self, path: str, *, default: bool) -> bool:
        """A boolean field."""
        raw = self.text(path)
        return default if raw is None else raw.lower() == "true"


def _bad_header(name: str, value: str) -> TradingError:
    # Verbatim shape of eBay KB 852 (trading/error_10012_invalid_header.response.xml).
    return TradingError(
        10012,
        f'Invalid value for header "{name}".',
        f'Header "{name}" with value "{value}" is out of range.',
        params=(name, value),
    )


async def parse_request(request: Request) -> TradingRequest:
    """Validate headers and body the way eBay does before looking at the call itself."""
    call = request.headers.get("x-ebay-api-call-name", "")
    if call not in CALLS:
        raise TradingError(
            2,
            "Unsupported API call.",
            f'The API call "{call}" is invalid or not supported in this release.',
            params=(call,),
        )
    site = request.headers.get("x-ebay-api-siteid", "")
    if not site.isdigit() or int(site) not in SITES:
        raise _bad_header("X-EBAY-API-SITEID", site)
    level = request.headers.get("x-ebay-api-compatibility-level", "")
    if not level.isdigit():
        raise _bad_header("X-EBAY-API-COMPATIBILITY-LEVEL", level)
    try:
        root = ElementTree.fromstring(await request.body())
    except ElementTree.ParseError:
        raise TradingError(
            5, "XML Parse error.", "XML Error Text: request is not well formed."
        ) from None
    if root.tag != f"{{{NAMESPACE}}}{call}Request":
        raise invalid_input(f"{call}Request")
    return TradingRequest(call, int(site), int(level), root)
