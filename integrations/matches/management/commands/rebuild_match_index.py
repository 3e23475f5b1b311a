"""Rebuild the preference index of the property matching (after changing
LISTING_MATCH_PRICE_TOLERANCE_PCT, or for leads written without events)."""

from django.core.management.base import BaseCommand

from integrations.matches import index


class Command(BaseCommand):
    help = "Rebuild the property matching's preference index from every open buyer's preferences."

    def handle(self, *args, **options):
        self.stdout.write(f"{index.index_rebuild()} preference index row(s) written.")
