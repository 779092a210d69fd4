"""Strictness variants: eBay behaviour the contracts leave open, played the other way.

By default the sandbox makes the guesses the fact sheet makes (and the client was written to).
Where the contracts leave a behaviour unconfirmed, a variant plays the other plausible answer,
so tests can run the client against both (``SANDBOX_STRICTNESS``, comma-separated):

- ``offers-no-offer-400``: getOffers answers a SKU without an offer with 400 25713 (eBay's spec
  lists 25713 under 400 for other Inventory calls), not 404.
- ``postorder-max-limit-N``: Post-Order searches refuse a ``limit`` above N (default 200).
- ``postorder-max-range-days-N``: Post-Order searches refuse a creation-date range longer than
  N days, a date-less search included (it searches the whole 18 months).
- ``postorder-empty-no-paging``: an empty Post-Order search answers ``{}``: no members, no
  paginationOutput, no totals.
- ``inquiry-no-lastmodified``: inquiry members carry no ``lastModifiedDate``.
"""

import re
from dataclasses import dataclass, replace
from functools import lru_cache

DEFAULT_POST_ORDER_MAX_LIMIT = 200
_NUMBERED = re.compile(r"^(postorder-max-limit|postorder-max-range-days)-([1-9][0-9]*)$")


@dataclass(frozen=True, slots=True)
class Strictness:
    """The variant in force; the defaults are the lenient guesses."""

    no_offer_status: int = 404
    post_order_max_limit: int = DEFAULT_POST_ORDER_MAX_LIMIT
    post_order_max_range_days: int | None = None
    post_order_empty_without_paging: bool = False
    inquiry_last_modified: bool = True


LENIENT = Strictness()
VARIANTS = (
    "offers-no-offer-400",
    "postorder-max-limit-N",
    "postorder-max-range-days-N",
    "postorder-empty-no-paging",
    "inquiry-no-lastmodified",
)


@lru_cache(maxsize=16)
def parse_strictness(spec: str) -> Strictness:
    """``"offers-no-offer-400,postorder-max-limit-50"`` -> Strictness; ValueError if unknown."""
    strictness = LENIENT
    for name in (part.strip() for part in spec.split(",")):
        if not name:
            continue
        numbered = _NUMBERED.match(name)
        if name == "offers-no-offer-400":
            strictness = replace(strictness, no_offer_status=400)
        elif name == "postorder-empty-no-paging":
            strictness = replace(strictness, post_order_empty_without_paging=True)
        elif name == "inquiry-no-lastmodified":
            strictness = replace(strictness, inquiry_last_modified=False)
        elif numbered and numbered.group(1) == "postorder-max-limit":
            strictness = replace(strictness, post_order_max_limit=int(numbered.group(2)))
        elif numbered:
            strictness = replace(strictness, post_order_max_range_days=int(numbered.group(2)))
        else:
            raise ValueError(f"unknown strictness variant {name!r}; choose from {VARIANTS}")
    return strictness
