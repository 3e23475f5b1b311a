"""manage.py sync_listing_feed NAME | --all: run listing feeds now, here, and print the counts."""

from django.core.management.base import BaseCommand, CommandError

from integrations.feeds import services
from integrations.feeds.models import FeedRun, ListingFeed


class Command(BaseCommand):
    help = (
        "Replicate a RESO Web API listing feed now (the listings changed since its cursor) and print "
        "what the run did. NAME runs that feed even when it is inactive; --all runs every active feed. "
        "Exits non-zero when a run failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", nargs="?", help="the feed's name (see the admin's Listing feeds)")
        parser.add_argument("--all", action="store_true", help="every active feed")

    def handle(self, *args, name: str | None, all: bool, **options):
        if bool(name) == all:
            raise CommandError("Give one feed name, or --all.")
        if all:
            feeds = list(ListingFeed.objects.filter(is_active=True).order_by("name"))
        else:
            feeds = list(ListingFeed.objects.filter(name=name))
            if not feeds:
                known = ", ".join(ListingFeed.objects.order_by("name").values_list("name", flat=True)) or "none"
                raise CommandError(f"No listing feed named {name!r} (feeds: {known}).")
        failed = []
        for feed in feeds:
            run = services.feed_sync(feed_id=feed.pk)
            if run is None:
                self.stdout.write(f"{feed.name}: already running elsewhere, skipped.")
                continue
            self.stdout.write(f"{feed.name}: {_describe(run)}")
            if run.error:
                self.stderr.write(f"{feed.name}: {run.error}")
                failed.append(feed.name)
        if not feeds:
            self.stdout.write("No active listing feeds.")
        if failed:
            raise CommandError(f"Failed: {', '.join(failed)}.")


def _describe(run: FeedRun) -> str:
    return (
        f"{run.status}, {run.pages} page(s), {run.received} received, {run.created} created, "
        f"{run.updated} updated, {run.unchanged} unchanged, {run.rejected} rejected"
    )
