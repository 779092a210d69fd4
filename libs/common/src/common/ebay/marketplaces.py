"""eBay marketplaces and their numeric Trading site ids."""

from __future__ import annotations

# eBay's numeric site ids (Trading API X-EBAY-API-SITEID) per marketplace id, as the fact sheet
# and eBay's SiteCodeType list them; the marketplace itself always comes from Identity getUser.
SITE_IDS: dict[str, int] = {
    "EBAY_US": 0,
    "EBAY_CA": 2,
    "EBAY_GB": 3,
    "EBAY_AU": 15,
    "EBAY_AT": 16,
    "EBAY_BE": 23,
    "EBAY_FR": 71,
    "EBAY_DE": 77,
    "EBAY_MOTORS_US": 100,
    "EBAY_IT": 101,
    "EBAY_NL": 146,
    "EBAY_ES": 186,
    "EBAY_CH": 193,
    "EBAY_HK": 201,
    "EBAY_IN": 203,
    "EBAY_IE": 205,
    "EBAY_MY": 207,
    "EBAY_PH": 211,
    "EBAY_PL": 212,
    "EBAY_SG": 216,
}


def site_id_for(marketplace_id: str) -> int | None:
    return SITE_IDS.get(marketplace_id)
