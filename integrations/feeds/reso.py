"""RESO Data Dictionary records (one ``Property`` resource entity as a RESO Web API
server sends it) turned into the raw listing rows ``market.rows.listing_row_parse``
checks. Pure functions, no I/O.

The mapping (README "Listing feeds" has the same table):

- external id: ``ListingKey`` (else ``ListingId``); it is also the cursor's tie-breaker.
- price ``ListPrice``; beds ``BedroomsTotal``; baths ``BathroomsTotalDecimal`` else
  ``BathroomsTotalInteger``; area ``LivingArea`` (square meters converted when
  ``LivingAreaUnits`` says so), rounded to whole square feet.
- type: ``PropertySubType`` first, else ``PropertyType`` (``PROPERTY_SUBTYPES``,
  ``PROPERTY_TYPES``); a "Residential" record without a subtype is a single family home;
  leases and anything unmapped are rejected with the value in the reason.
- status ``StandardStatus`` (``STATUSES``); anything else is rejected.
- address ``UnparsedAddress`` else StreetNumber StreetDirPrefix StreetName StreetSuffix
  UnitNumber; ``City``; ``PostalCode``; location = City, else PostalCode.
- listed_at ``ListingContractDate``; modified_at ``ModificationTimestamp`` (required).
- photos: the expanded ``Media`` items that are photos, by ``Order``, their ``MediaURL``
  (addresses that are not http(s) are left out, they do not reject the listing).
- features (``FEATURE_FLAGS``): pool, garage, fireplace, view, waterfront, spa, air
  conditioning from the RESO yes/no fields (and PoolFeatures / GarageSpaces), plus each
  value of InteriorFeatures, ExteriorFeatures, PoolFeatures, CommunityFeatures, case-folded
  ("WalkInClosets" and "Walk-In Closets" both become "walk-in closets" / "walk in closets").
"""

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation

from integrations.market.models import ListingStatus
from integrations.market.rows import ListingRow, RowInvalid, listing_row_parse
from leads.models import PropertyType

SQUARE_FEET_PER_SQUARE_METER = Decimal("10.7639")
MAX_PHOTOS = 30
MAX_FEATURES = 40


def _word(value: object) -> str:
    """A RESO enumeration value as a lookup key: "Single Family Residence",
    "SingleFamilyResidence" and "single-family residence" are all "singlefamilyresidence"."""
    return re.sub(r"[^a-z0-9]", "", str(value).casefold())


PROPERTY_SUBTYPES = {
    "singlefamilyresidence": PropertyType.SINGLE_FAMILY,
    "singlefamily": PropertyType.SINGLE_FAMILY,
    "condominium": PropertyType.CONDO,
    "condo": PropertyType.CONDO,
    "stockcooperative": PropertyType.CONDO,
    "ownyourown": PropertyType.CONDO,
    "townhouse": PropertyType.TOWNHOUSE,
    "townhome": PropertyType.TOWNHOUSE,
    "duplex": PropertyType.MULTI_FAMILY,
    "triplex": PropertyType.MULTI_FAMILY,
    "quadruplex": PropertyType.MULTI_FAMILY,
    "multifamily": PropertyType.MULTI_FAMILY,
    "apartment": PropertyType.APARTMENT,
    "manufacturedhome": PropertyType.MOBILE_HOME,
    "manufacturedonland": PropertyType.MOBILE_HOME,
    "mobilehome": PropertyType.MOBILE_HOME,
}
PROPERTY_TYPES = {
    "residentialincome": PropertyType.MULTI_FAMILY,
    "multifamily": PropertyType.MULTI_FAMILY,
    "condominium": PropertyType.CONDO,
    "townhouse": PropertyType.TOWNHOUSE,
    "land": PropertyType.LAND,
    "farm": PropertyType.LAND,
    "commercialsale": PropertyType.COMMERCIAL,
    "businessopportunity": PropertyType.COMMERCIAL,
    "manufacturedinpark": PropertyType.MOBILE_HOME,
}
LEASE_TYPES = frozenset({"residentiallease", "commerciallease"})
STATUSES = {
    "active": ListingStatus.ACTIVE,
    "activeundercontract": ListingStatus.PENDING,
    "pending": ListingStatus.PENDING,
    "closed": ListingStatus.SOLD,
    "withdrawn": ListingStatus.WITHDRAWN,
    "canceled": ListingStatus.WITHDRAWN,
    "cancelled": ListingStatus.WITHDRAWN,
    "expired": ListingStatus.WITHDRAWN,
    "hold": ListingStatus.WITHDRAWN,
    "delete": ListingStatus.WITHDRAWN,
}
# feature -> the yes/no fields that say the home has it
FEATURE_FLAGS = {
    "pool": ("PoolPrivateYN",),
    "garage": ("GarageYN", "AttachedGarageYN"),
    "fireplace": ("FireplaceYN",),
    "view": ("ViewYN",),
    "waterfront": ("WaterfrontYN",),
    "spa": ("SpaYN",),
    "air conditioning": ("CoolingYN",),
}
FEATURE_LISTS = ("InteriorFeatures", "ExteriorFeatures", "PoolFeatures", "CommunityFeatures")
NO_FEATURE = frozenset({"none", "no", "nopool"})


def listing_key(record: Mapping[str, object]) -> str:
    """The record's id: ListingKey, else ListingId ("" when it has neither)."""
    for name in ("ListingKey", "ListingId"):
        value = record.get(name)
        if value not in (None, ""):
            return str(value).strip()
    return ""


def modification_timestamp(record: Mapping[str, object]) -> datetime | None:
    """The record's ModificationTimestamp, or None when it is missing or not a date and time with a zone."""
    value = record.get("ModificationTimestamp")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def listing_row(record: Mapping[str, object]) -> ListingRow:
    """The validated listing of one RESO record; RowInvalid lists every problem."""
    problems: list[str] = []
    if not listing_key(record):
        problems.append("ListingKey (or ListingId) is required")
    if modification_timestamp(record) is None:
        problems.append(f"ModificationTimestamp {record.get('ModificationTimestamp')!r} is not a date and time")
    property_type = _property_type(record, problems)
    status = _status(record, problems)
    raw = {
        "external_id": listing_key(record),
        "location": _text(record.get("City")) or _text(record.get("PostalCode")),
        "price": _number(record.get("ListPrice")),
        "beds": _number(record.get("BedroomsTotal")),
        "baths": _number(_first(record, "BathroomsTotalDecimal", "BathroomsTotalInteger")),
        "square_feet": _area(record),
        "property_type": property_type or "",
        "status": status or "",
        "listed_at": _text(record.get("ListingContractDate"))[:10],
        "address": _address(record),
        "city": _text(record.get("City")),
        "postal_code": _text(record.get("PostalCode")),
        "features": _features(record),
        "photo_urls": _photos(record.get("Media")),
        "modified_at": _text(record.get("ModificationTimestamp")),
    }
    try:
        row = listing_row_parse(raw)
    except RowInvalid as invalid:
        # a type or status already explained above is not reported twice as "required"
        problems += [
            message
            for message in invalid.messages
            if not (message.startswith(("property_type is required", "status is required")))
        ]
        row = None
    if problems:
        raise RowInvalid(problems)
    return row


def _text(value: object) -> str:
    return "" if value is None or isinstance(value, dict | list) else str(value).strip()


def _first(record: Mapping[str, object], *names: str) -> object:
    return next((record[name] for name in names if record.get(name) not in (None, "")), None)


def _number(value: object) -> str:
    """A JSON number as text for the row parser: 3.0 is "3", 2.5 stays "2.5"; other
    values are passed on as text, for the parser to refuse with the value in its words."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int | float):
        number = Decimal(str(value))
        return str(number.to_integral_value()) if number == number.to_integral_value() else str(number)
    return _text(value)


def _area(record: Mapping[str, object]) -> str:
    value = record.get("LivingArea")
    if isinstance(value, bool) or not isinstance(value, int | float | str) or value == "":
        return _text(value)
    try:
        area = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if not area.is_finite():
        return str(value)
    if _word(record.get("LivingAreaUnits") or "") in ("squaremeters", "squaremeter", "sqm"):
        area *= SQUARE_FEET_PER_SQUARE_METER
    return str(area.to_integral_value())  # negative stays negative: the parser refuses it


def _property_type(record: Mapping[str, object], problems: list[str]) -> str | None:
    main, sub = record.get("PropertyType"), record.get("PropertySubType")
    main_word, sub_word = _word(main or ""), _word(sub or "")
    if main_word in LEASE_TYPES:
        problems.append(f"PropertyType {main!r} is a lease, not a home for sale")
        return None
    if sub_word and sub_word in PROPERTY_SUBTYPES:
        return PROPERTY_SUBTYPES[sub_word]
    if main_word in PROPERTY_TYPES:
        return PROPERTY_TYPES[main_word]
    if main_word == "residential" and not sub_word:
        return PropertyType.SINGLE_FAMILY
    if not main_word and not sub_word:
        problems.append("PropertyType is required")
    else:
        problems.append(f"PropertyType {main!r} / PropertySubType {sub!r} has no matching property type")
    return None


def _status(record: Mapping[str, object], problems: list[str]) -> str | None:
    value = record.get("StandardStatus")
    status = STATUSES.get(_word(value or ""))
    if status is None:
        problems.append(f"StandardStatus {value!r} has no matching status" if value else "StandardStatus is required")
    return status


def _address(record: Mapping[str, object]) -> str:
    unparsed = _text(record.get("UnparsedAddress"))
    if unparsed:
        return unparsed
    parts = [_text(record.get(name)) for name in ("StreetNumber", "StreetDirPrefix", "StreetName", "StreetSuffix")]
    street = " ".join(part for part in parts if part)
    unit = _text(record.get("UnitNumber"))
    return f"{street} #{unit}" if street and unit else street


def _yes(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.strip().casefold() in ("true", "yes", "y", "1"))


def _feature_words(value: str) -> str:
    """ "WalkInClosets" -> "walk in closets"; values with spaces are only case-folded."""
    if " " not in value:
        value = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", value)
    return " ".join(value.split()).casefold()


def _features(record: Mapping[str, object]) -> list[str]:
    features = [name for name, fields in FEATURE_FLAGS.items() if any(_yes(record.get(f)) for f in fields)]
    pool = record.get("PoolFeatures")
    if isinstance(pool, list) and any(_word(item) not in NO_FEATURE for item in pool) and "pool" not in features:
        features.append("pool")
    spaces = record.get("GarageSpaces")
    if isinstance(spaces, int | float) and not isinstance(spaces, bool) and spaces > 0 and "garage" not in features:
        features.append("garage")
    for name in FEATURE_LISTS:
        values = record.get(name)
        if isinstance(values, str):  # some servers send a comma-separated string
            values = values.split(",")
        if isinstance(values, list):
            features += [
                _feature_words(str(item).strip())
                for item in values
                if isinstance(item, str) and item.strip() and _word(item) not in NO_FEATURE
            ]
    return list(dict.fromkeys(feature[:100] for feature in features))[:MAX_FEATURES]


def _photos(media: object) -> list[str]:
    if not isinstance(media, list):
        return []
    photos = [
        item
        for item in media
        if isinstance(item, dict)
        and isinstance(item.get("MediaURL"), str)
        and re.match(r"^https?://[^\s<>\"']+$", item["MediaURL"].strip())
        and _word(item.get("MediaCategory") or "photo") in ("photo", "photos", "image")
    ]

    def order(item: dict) -> tuple:
        value = item.get("Order")
        return (0, value) if isinstance(value, int | float) and not isinstance(value, bool) else (1, 0)

    return [item["MediaURL"].strip() for item in sorted(photos, key=order)][:MAX_PHOTOS]
