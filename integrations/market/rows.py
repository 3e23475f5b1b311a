"""The two kinds of market data row, their columns, and how a raw row (strings from a
CSV file, values from a feed) is checked and turned into typed values.

Every provider yields raw rows; the import services validate them here, so a CSV
file, the demo data and the RESO feeds (``integrations.feeds.reso``) all obey the same rules.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from integrations.market.locations import location_key
from integrations.market.models import ListingStatus
from leads.core.validation import clean_text
from leads.models import PropertyType

MAX_PRICE = Decimal("999999999999")  # fits max_digits=14, decimal_places=2
MAX_TEXT = 100

# column -> what it holds (shown in the commands' help and the README)
MARKET_COLUMNS = {
    "location": "city name or ZIP code (required)",
    "month": "YYYY-MM or YYYY-MM-DD; stored as the first day of that month (required)",
    "median_list_price": "dollars, e.g. 1250000 or $1,250,000",
    "median_sale_price": "dollars (a row needs this or median_list_price)",
    "price_per_sqft": "dollars per square foot",
    "active_listings": "whole number",
    "median_days_on_market": "whole number of days",
}
MARKET_REQUIRED_COLUMNS = ("location", "month")

LISTING_COLUMNS = {
    "external_id": "the listing's id in its source, e.g. an MLS number (required)",
    "location": "city name or ZIP code (required)",
    "price": "asking price in dollars (required)",
    "property_type": "one of " + ", ".join(PropertyType.values) + " or its label, e.g. 'Single Family' (required)",
    "beds": "whole number",
    "baths": "number, halves allowed (2.5)",
    "square_feet": "whole number",
    "status": "active (default), pending, sold or withdrawn",
    "listed_at": "YYYY-MM-DD",
    "address": "street address",
    "city": "city name",
    "postal_code": "ZIP code",
    "features": "features separated by | or ; (pool|garage)",
    "photo_urls": "photo addresses (http or https) separated by | or whitespace, the cover first",
    "modified_at": "the source's modification time, ISO 8601 (2026-12-01T10:00:00Z)",
}
LISTING_REQUIRED_COLUMNS = ("external_id", "location", "price", "property_type")

_URL = re.compile(r"^https?://[^\s<>\"']+$", re.IGNORECASE)
_MONEY_FORMATTING = re.compile(r"[\s$,]")
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})(?:-(\d{1,2}))?$")
_PROPERTY_TYPES = {
    **{value: value for value in PropertyType.values},
    **{label.casefold(): value for value, label in PropertyType.choices},
}


class RowInvalid(Exception):
    """A row that cannot be imported, with one message per problem."""

    def __init__(self, messages: list[str]):
        self.messages = messages
        super().__init__("; ".join(messages))


@dataclass(frozen=True)
class MarketRow:
    location: str
    location_key: str
    month: date
    median_list_price: Decimal | None
    median_sale_price: Decimal | None
    price_per_sqft: Decimal | None
    active_listings: int | None
    median_days_on_market: int | None


@dataclass(frozen=True)
class ListingRow:
    external_id: str
    location: str
    location_key: str
    price: Decimal
    beds: int | None
    baths: Decimal | None
    square_feet: int | None
    property_type: str
    status: str
    listed_at: date | None
    address: str = ""
    city: str = ""
    postal_code: str = ""
    features: tuple[str, ...] = ()
    photo_urls: tuple[str, ...] = ()
    modified_at: datetime | None = None


class _Reader:
    """Reads typed fields from one raw row, collecting every problem before failing."""

    def __init__(self, raw: Mapping[str, object]):
        self.raw = raw
        self.errors: list[str] = []

    def _value(self, name: str) -> str:
        value = self.raw.get(name)
        return "" if value is None else clean_text(str(value))

    def text(self, name: str, *, required: bool = False, maximum: int = MAX_TEXT) -> str:
        value = self._value(name)
        if required and not value:
            self.errors.append(f"{name} is required")
        elif len(value) > maximum:
            self.errors.append(f"{name} is longer than {maximum} characters")
        return value

    def decimal(
        self, name: str, *, required: bool = False, places: int = 2, maximum: Decimal = MAX_PRICE
    ) -> Decimal | None:
        value = self._value(name)
        if not value:
            if required:
                self.errors.append(f"{name} is required")
            return None
        try:
            number = Decimal(_MONEY_FORMATTING.sub("", value))
        except InvalidOperation:
            self.errors.append(f"{name} {value!r} is not a number")
            return None
        if not number.is_finite() or number < 0:
            self.errors.append(f"{name} {value!r} must be 0 or more")
            return None
        if number > maximum:
            self.errors.append(f"{name} {value!r} is too large")
            return None
        return number.quantize(Decimal(1).scaleb(-places))

    def integer(self, name: str, *, maximum: int = 2_147_483_647) -> int | None:
        value = self._value(name)
        if not value:
            return None
        compact = value.replace(",", "")
        if not compact.isdigit():
            self.errors.append(f"{name} {value!r} must be a whole number, 0 or more")
            return None
        if int(compact) > maximum:
            self.errors.append(f"{name} {value!r} is too large")
            return None
        return int(compact)

    def month(self, name: str) -> date | None:
        value = self._value(name)
        if not value:
            self.errors.append(f"{name} is required")
            return None
        match = _MONTH.match(value)
        try:
            if not match:
                raise ValueError
            year, month, day = int(match[1]), int(match[2]), int(match[3] or 1)
            date(year, month, day)  # rejects 2026-02-30 and month 13
        except ValueError:
            self.errors.append(f"{name} {value!r} is not a month (YYYY-MM or YYYY-MM-DD)")
            return None
        return date(year, month, 1)

    def positive_integer(self, name: str, *, maximum: int = 2_147_483_647) -> int | None:
        value = self.integer(name, maximum=maximum)
        if value == 0:
            self.errors.append(f"{name} must be more than 0")
            return None
        return value

    def positive_decimal(self, name: str, *, required: bool = False) -> Decimal | None:
        value = self.decimal(name, required=required)
        if value is not None and value <= 0:
            self.errors.append(f"{name} must be more than 0")
            return None
        return value

    def items(self, name: str, *, separators: str = r"[|;]", limit: int = 50) -> tuple[str, ...]:
        """A list: given as a list (feeds) or as one string with separators (CSV)."""
        raw = self.raw.get(name)
        if raw is None or raw == "":
            return ()
        parts = raw if isinstance(raw, list | tuple) else re.split(separators, str(raw))
        values = tuple(dict.fromkeys(clean_text(str(part)) for part in parts if clean_text(str(part))))
        if len(values) > limit:
            self.errors.append(f"{name} has more than {limit} items")
        elif any(len(value) > 500 for value in values):
            self.errors.append(f"{name} has an item longer than 500 characters")
        return values

    def urls(self, name: str) -> tuple[str, ...]:
        values = self.items(name, separators=r"[|\s]+")
        bad = [value for value in values if not _URL.match(value)]
        if bad:
            self.errors.append(f"{name} {bad[0]!r} is not an http(s) address")
            return ()
        return values

    def moment(self, name: str) -> datetime | None:
        value = self._value(name)
        if not value:
            return None
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            self.errors.append(f"{name} {value!r} is not a date and time (ISO 8601)")
            return None
        if moment.tzinfo is None:
            self.errors.append(f"{name} {value!r} has no time zone")
            return None
        return moment

    def day(self, name: str) -> date | None:
        value = self._value(name)
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.errors.append(f"{name} {value!r} is not a date (YYYY-MM-DD)")
            return None

    def choice(self, name: str, options: Mapping[str, str], *, default: str | None = None) -> str | None:
        value = self._value(name)
        if not value:
            if default is None:
                self.errors.append(f"{name} is required")
            return default
        chosen = options.get(value.casefold())
        if chosen is None:
            self.errors.append(f"{name} {value!r} is not one of {', '.join(sorted(set(options.values())))}")
        return chosen

    def check(self) -> None:
        if self.errors:
            raise RowInvalid(self.errors)


def market_row_parse(raw: Mapping[str, object]) -> MarketRow:
    """A validated market row; RowInvalid lists every problem with the row."""
    reader = _Reader(raw)
    location = reader.text("location", required=True)
    row = MarketRow(
        location=location,
        location_key=location_key(location),
        month=reader.month("month"),
        median_list_price=reader.decimal("median_list_price"),
        median_sale_price=reader.decimal("median_sale_price"),
        price_per_sqft=reader.decimal("price_per_sqft", maximum=Decimal("99999999")),
        active_listings=reader.integer("active_listings"),
        median_days_on_market=reader.integer("median_days_on_market"),
    )
    if row.median_list_price is None and row.median_sale_price is None and not reader.errors:
        reader.errors.append("median_sale_price or median_list_price is required")
    reader.check()
    return row


def listing_row_parse(raw: Mapping[str, object]) -> ListingRow:
    """A validated listing row; RowInvalid lists every problem with the row."""
    reader = _Reader(raw)
    location = reader.text("location", required=True)
    row = ListingRow(
        external_id=reader.text("external_id", required=True),
        location=location,
        location_key=location_key(location),
        price=reader.positive_decimal("price", required=True),
        beds=reader.integer("beds", maximum=100),
        baths=reader.decimal("baths", places=1, maximum=Decimal("100")),
        square_feet=reader.positive_integer("square_feet"),
        property_type=reader.choice("property_type", _PROPERTY_TYPES),
        status=reader.choice("status", {value: value for value in ListingStatus.values}, default=ListingStatus.ACTIVE),
        listed_at=reader.day("listed_at"),
        address=reader.text("address", maximum=200),
        city=reader.text("city"),
        postal_code=reader.text("postal_code", maximum=10),
        features=tuple(feature.casefold() for feature in reader.items("features")),
        photo_urls=reader.urls("photo_urls"),
        modified_at=reader.moment("modified_at"),
    )
    reader.check()
    return row
