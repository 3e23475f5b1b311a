"""The property matches of the demo (run by ``seed_demo``): the preference index built for
every open buyer (history leads are written without events), the demo listings' waiting
changes matched, and each open buyer matched against the active listings. Safe to run
again: matches are upserted, nothing is duplicated."""

from django.core.management.base import BaseCommand

from integrations.matches import index, services
from integrations.matches.models import ListingMatch


class Command(BaseCommand):
    help = "Match the demo listings against the demo leads' preferences (idempotent)."

    def handle(self, *args, **options):
        rows = index.index_rebuild()
        changes = services.match_listing_changes()
        leads = services.match_leads(index.open_buyer_pks())
        current = ListingMatch.objects.filter(is_current=True).count()
        self.stdout.write(
            f"Property matches: {rows} index rows, {changes.changes} listing change(s) taken, "
            f"{leads.matched} new match(es); {current} current in all."
        )
