"""Demo market data for the Bay Area, generated the same way on every run.

Plausible, not real: twelve months (November 2025 to October 2026) of medians per
city with a per-city trend and a mild spring season, and a few hundred listings.
Every row carries the source "demo" so nobody mistakes it for MLS figures.
"""

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.templatetags.static import static

from integrations.market.providers import RawRow
from leads.models import PropertyType

DEMO_SOURCE = "demo"
DEMO_SEED = 2026
DEMO_FIRST_MONTH = date(2025, 11, 1)
DEMO_MONTHS = 12
LISTINGS_PER_CITY = 45
DEMO_PHOTOS = 8  # static/demo/listings/home-N.png: drawings, so the demo loads nothing from outside
_ZIP_CODES = {
    "SF": ("94110", "94114", "94122"),
    "OAK": ("94610", "94611", "94602"),
    "SJ": ("95125", "95118", "95120"),
    "BRK": ("94705", "94707", "94703"),
    "PA": ("94301", "94303", "94306"),
    "FRE": ("94536", "94538", "94539"),
    "WC": ("94595", "94596", "94598"),
    "SM": ("94401", "94402", "94403"),
}
_STREETS = ("Oak", "Maple", "Cedar", "Hillside", "Bay View", "Park", "Lincoln", "Sunset", "Elm", "Willow", "Grand")
_FEATURES = ("garage", "yard", "fireplace", "central air", "updated kitchen", "pool", "view", "home office", "solar")


@dataclass(frozen=True)
class DemoCity:
    name: str
    code: str
    median_sale_price: int  # in the latest month
    yearly_change: float  # over the twelve months
    price_per_sqft: int
    median_days_on_market: int
    active_listings: int
    sale_to_list: float  # > 1: homes sell over their asking price
    property_mix: dict[str, int]  # listing property type -> weight


DEMO_CITIES = (
    DemoCity(
        "San Francisco",
        "SF",
        1_350_000,
        0.045,
        1_020,
        21,
        880,
        1.06,
        {"condo": 45, "single_family": 30, "townhouse": 8, "multi_family": 17},
    ),
    DemoCity(
        "Oakland",
        "OAK",
        845_000,
        -0.025,
        565,
        27,
        690,
        1.02,
        {"single_family": 45, "condo": 30, "townhouse": 10, "multi_family": 15},
    ),
    DemoCity(
        "San Jose",
        "SJ",
        1_460_000,
        0.052,
        860,
        14,
        1_150,
        1.05,
        {"single_family": 50, "condo": 22, "townhouse": 23, "multi_family": 5},
    ),
    DemoCity(
        "Berkeley",
        "BRK",
        1_420_000,
        0.031,
        905,
        18,
        115,
        1.15,
        {"single_family": 55, "condo": 25, "townhouse": 5, "multi_family": 15},
    ),
    DemoCity(
        "Palo Alto", "PA", 3_450_000, 0.062, 1_760, 12, 85, 1.08, {"single_family": 65, "condo": 20, "townhouse": 15}
    ),
    DemoCity(
        "Fremont", "FRE", 1_530_000, 0.038, 905, 12, 240, 1.07, {"single_family": 50, "townhouse": 30, "condo": 20}
    ),
    DemoCity(
        "Walnut Creek", "WC", 1_040_000, 0.0, 690, 22, 205, 1.01, {"single_family": 45, "condo": 35, "townhouse": 20}
    ),
    DemoCity(
        "San Mateo", "SM", 1_610_000, 0.021, 1_060, 16, 175, 1.04, {"single_family": 50, "condo": 30, "townhouse": 20}
    ),
)

# property type -> (bedroom choices, base square feet, square feet per bedroom, price per sqft factor)
_SHAPES = {
    PropertyType.CONDO: ((0, 1, 1, 2, 2, 2, 3), 480, 330, 0.95),
    PropertyType.SINGLE_FAMILY: ((2, 3, 3, 3, 4, 4, 5), 780, 420, 1.05),
    PropertyType.TOWNHOUSE: ((2, 2, 3, 3, 4), 700, 380, 0.92),
    PropertyType.MULTI_FAMILY: ((3, 4, 4, 6, 8), 1_300, 360, 0.82),
}


def _month(index: int) -> date:
    months = DEMO_FIRST_MONTH.year * 12 + DEMO_FIRST_MONTH.month - 1 + index
    return date(months // 12, months % 12 + 1, 1)


def _season(month: date) -> float:
    """+1 in late spring (May), -1 in late autumn."""
    return math.cos(2 * math.pi * (month.month - 5) / 12)


def _round_to(value: float, step: int) -> int:
    return int(round(value / step) * step)


class DemoMarketDataProvider:
    """Deterministic demo rows: the same values on every run, so re-seeding changes nothing."""

    source = DEMO_SOURCE

    def market_rows(self) -> Iterator[RawRow]:
        rng = random.Random(DEMO_SEED)
        number = 0
        for city in DEMO_CITIES:
            start_price = city.median_sale_price / (1 + city.yearly_change)
            for index in range(DEMO_MONTHS):
                month = _month(index)
                growth = 1 + city.yearly_change * index / (DEMO_MONTHS - 1)
                factor = growth * (1 + 0.012 * _season(month)) * rng.uniform(0.997, 1.003)
                sale_price = _round_to(start_price * factor, 1_000)
                number += 1
                yield RawRow(
                    number=number,
                    values={
                        "location": city.name,
                        "month": month.isoformat(),
                        "median_sale_price": sale_price,
                        "median_list_price": _round_to(sale_price / city.sale_to_list, 1_000),
                        "price_per_sqft": Decimal(
                            str(round(city.price_per_sqft / (1 + city.yearly_change) * factor, 2))
                        ),
                        "active_listings": round(
                            city.active_listings * (1 + 0.18 * _season(month)) * rng.uniform(0.95, 1.05)
                        ),
                        "median_days_on_market": max(
                            5, round(city.median_days_on_market * (1 - 0.2 * _season(month)) + rng.randint(-2, 2))
                        ),
                    },
                )

    def listing_rows(self) -> Iterator[RawRow]:
        rng = random.Random(DEMO_SEED + 1)
        details = random.Random(DEMO_SEED + 2)  # its own sequence: the figures above stay as they were
        number = 0
        first_listed = date(2026, 8, 15)
        for city in DEMO_CITIES:
            types, weights = zip(*city.property_mix.items(), strict=True)
            for index in range(1, LISTINGS_PER_CITY + 1):
                property_type = rng.choices(types, weights=weights)[0]
                bed_choices, base_sqft, sqft_per_bed, type_factor = _SHAPES[property_type]
                beds = rng.choice(bed_choices)
                square_feet = _round_to((base_sqft + beds * sqft_per_bed) * rng.uniform(0.85, 1.2), 10)
                price = square_feet * city.price_per_sqft * type_factor * rng.uniform(0.82, 1.22)
                baths = max(1.0, round((beds * 0.8 + rng.choice((0, 0.5, 1))) * 2) / 2)  # in halves
                status = rng.choices(("active", "pending", "sold"), weights=(85, 10, 5))[0]
                number += 1
                yield RawRow(
                    number=number,
                    values={
                        "external_id": f"DEMO-{city.code}-{index:03d}",
                        "location": city.name,
                        "price": _round_to(price, 5_000),
                        "beds": beds,
                        "baths": Decimal(str(baths)),
                        "square_feet": square_feet,
                        "property_type": property_type,
                        "status": status,
                        "listed_at": (first_listed + timedelta(days=rng.randint(0, 92))).isoformat(),
                        **_demo_details(details, city, property_type),
                    },
                )


def _demo_details(rng: random.Random, city: DemoCity, property_type: str) -> dict:
    unit = f" #{rng.randint(1, 40)}" if property_type == PropertyType.CONDO else ""
    photos = rng.sample(range(1, DEMO_PHOTOS + 1), 2)
    return {
        "address": f"{rng.randint(10, 2999)} {rng.choice(_STREETS)} {rng.choice(('St', 'Ave', 'Way', 'Dr'))}{unit}",
        "city": city.name,
        "postal_code": rng.choice(_ZIP_CODES[city.code]),
        "features": rng.sample(_FEATURES, rng.randint(1, 4)),
        "photo_urls": [f"{settings.SITE_URL}{static(f'demo/listings/home-{photo}.png')}" for photo in photos],
    }
