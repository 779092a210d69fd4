"""Static word lists used to dress up generated sellers, buyers, listings and addresses."""

from typing import NamedTuple

# Marketplaces whose sellers are EU/UK-domiciled: their Finances calls must be signed.
SIGNING_MARKETPLACES = frozenset(
    {
        "EBAY_GB",
        "EBAY_DE",
        "EBAY_FR",
        "EBAY_IT",
        "EBAY_ES",
        "EBAY_AT",
        "EBAY_BE",
        "EBAY_NL",
        "EBAY_IE",
        "EBAY_PL",
    }
)
MARKETPLACES = frozenset(
    {"EBAY_US", "EBAY_MOTORS", "EBAY_CA", "EBAY_GB", "EBAY_AU", "EBAY_AT", "EBAY_BE", "EBAY_FR",
     "EBAY_DE", "EBAY_IT", "EBAY_NL", "EBAY_ES", "EBAY_CH", "EBAY_IE", "EBAY_PL", "EBAY_HK",
     "EBAY_SG", "EBAY_MY", "EBAY_PH", "EBAY_IN"}
)  # fmt: skip


class Place(NamedTuple):
    """A city with its region and postal code."""

    city: str
    region: str
    postal_code: str


class MarketProfile(NamedTuple):
    """Per-marketplace constants."""

    country: str
    currency: str
    places: tuple[Place, ...]
    streets: tuple[str, ...]
    phone_prefix: str
    carriers: tuple[tuple[str, str], ...]  # (shippingCarrierCode, shippingServiceCode)


MARKETS: dict[str, MarketProfile] = {
    "EBAY_US": MarketProfile(
        "US",
        "USD",
        (
            Place("Austin", "TX", "78701"),
            Place("Portland", "OR", "97205"),
            Place("Columbus", "OH", "43215"),
            Place("Denver", "CO", "80202"),
            Place("Raleigh", "NC", "27601"),
            Place("San Jose", "CA", "95113"),
            Place("Madison", "WI", "53703"),
            Place("Tampa", "FL", "33602"),
        ),
        ("Main St", "Oak Ave", "Maple Dr", "Pine St", "Cedar Ln", "Elm St", "Lake Rd"),
        "+1 ",
        (("USPS", "USPSPriority"), ("USPS", "USPSFirstClass"), ("UPS", "UPSGround")),
    ),
    "EBAY_GB": MarketProfile(
        "GB",
        "GBP",
        (
            Place("Leeds", "West Yorkshire", "LS1 4AP"),
            Place("Bristol", "Bristol", "BS1 5TR"),
            Place("Manchester", "Greater Manchester", "M1 1AE"),
            Place("Norwich", "Norfolk", "NR2 1NH"),
            Place("Cardiff", "South Glamorgan", "CF10 1EP"),
        ),
        ("High Street", "Station Road", "Church Lane", "Victoria Road", "Mill Lane"),
        "+44 ",
        (("ROYAL_MAIL", "UK_RoyalMailSecondClassStandard"), ("EVRI", "UK_Evri48")),
    ),
    "EBAY_DE": MarketProfile(
        "DE",
        "EUR",
        (
            Place("Berlin", "Berlin", "10115"),
            Place("Hamburg", "Hamburg", "20095"),
            Place("Leipzig", "Sachsen", "04109"),
            Place("Köln", "Nordrhein-Westfalen", "50667"),
            Place("Freiburg", "Baden-Württemberg", "79098"),
        ),
        ("Hauptstraße", "Bahnhofstraße", "Gartenweg", "Lindenallee", "Schulstraße"),
        "+49 ",
        (("DHL", "DE_DHLPaket"), ("HERMES", "DE_HermesPaket")),
    ),
}

FIRST_NAMES = (
    "Alex", "Sam", "Jordan", "Taylor", "Morgan", "Casey", "Jamie", "Robin", "Chris", "Pat",
    "Lena", "Jonas", "Emma", "Oliver", "Mia", "Noah", "Sophie", "Liam", "Hannah", "Ben",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Miller", "Brown", "Wilson", "Clark", "Walker", "Young", "King", "Wright", "Hill",
    "Schmidt", "Fischer", "Weber", "Wagner", "Becker", "Jones", "Evans", "Taylor", "Wood", "Hall",
)  # fmt: skip

ADJECTIVES = (
    "Vintage", "New", "Genuine", "Rare", "Handmade", "Refurbished", "Classic", "Compact",
    "Heavy Duty", "Wireless", "Stainless", "Leather",
)  # fmt: skip
PRODUCTS = (
    "Camera Lens", "Wrist Watch", "Coffee Grinder", "Desk Lamp", "Road Bike Saddle",
    "Mechanical Keyboard", "Board Game", "Vinyl Record", "Hiking Backpack", "Phone Case",
    "Chef Knife", "Bluetooth Speaker", "Wool Scarf", "LEGO Set", "Fountain Pen",
)  # fmt: skip
DETAILS = (
    "Black", "Blue", "Size M", "50mm", "Boxed", "Lot of 2", "1970s", "With Manual", "XL",
    "Silver", "Tested Working",
)  # fmt: skip

CONDITIONS = ("NEW", "NEW", "NEW", "USED_EXCELLENT", "USED_GOOD", "NEW_OTHER")
CATEGORIES = ("15032", "31388", "11700", "260324", "177", "58058", "11450", "220", "1249")
SUPPLIES = (
    "Bubble Mailers 50pk", "Packing Tape 6 Rolls", "Thermal Labels 500", "Shipping Boxes 25pk",
    "Poly Mailers 100pk", "Label Printer", "Kraft Paper Roll", "Tissue Paper 100 Sheets",
)  # fmt: skip
SUPPLY_SELLERS = ("uline_direct", "packnship_supply", "boxes4less", "label_depot", "mailer_hub")
MESSAGE_SUBJECTS = (
    ("AskSellerQuestion", "Question about item {item}"),
    ("AskSellerQuestion", "Is this still available? ({item})"),
    ("AskSellerQuestion", "Combined shipping for {item}?"),
    ("ResponseToASQQuestion", "Re: Question about item {item}"),
    ("eBayMessage", "Your payout is on the way"),
    ("eBayMessage", "Action needed: update your listing {item}"),
)
MESSAGE_TEXTS = (
    "Hi, could you tell me the exact dimensions?",
    "Does it come with the original box?",
    "Can you ship to a different address?",
    "Would you accept a lower price for two?",
    "Thanks for the quick reply!",
    "Please see the details in My eBay.",
)
