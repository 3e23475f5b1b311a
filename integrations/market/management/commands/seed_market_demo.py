"""manage.py seed_market_demo: demo market figures and listings (source "demo"). Safe to run again."""

from django.core.management.base import BaseCommand

from integrations.market.demo import DEMO_CITIES, DemoMarketDataProvider
from integrations.market.imports import listings_import, market_data_import


class Command(BaseCommand):
    help = (
        'Load demo market data (labelled source "demo") for '
        + ", ".join(city.name for city in DEMO_CITIES)
        + ": twelve months of figures and a few hundred listings. Idempotent; never overwrites "
        "a month that imported data already covers."
    )

    def handle(self, *args, **options):
        provider = DemoMarketDataProvider()
        figures = market_data_import(provider=provider, keep_other_sources=True)
        listings = listings_import(provider=provider)
        self.stdout.write(f"Demo market data: {figures}.")
        self.stdout.write(f"Demo listings: {listings}.")
