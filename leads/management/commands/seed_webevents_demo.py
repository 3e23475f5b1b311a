"""Demo website activity (``leads.webevents``): a dozen demo leads browse the team's IDX
website over the last days, so their pages show it and their scores count it; one of
them views the same listing three times, which starts the "Hot on a listing" plan when
plans are installed. Safe to run again: the event ids are fixed, so nothing is added twice."""

import random
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from leads.demo import DEMO_EMAIL_DOMAIN
from leads.models import Lead, LeadStatus, WebEventKind
from leads.webevents.services import record_web_event

LEADS = 12
IDX = "https://idx.demo.example.com"


class Command(BaseCommand):
    help = "Add demo website activity (listing views, saves, searches) to some demo leads (idempotent)."

    def handle(self, *args, **options):
        leads = list(
            Lead.objects.filter(contact__email__endswith=DEMO_EMAIL_DOMAIN, archived_at__isnull=True)
            .exclude(status__in=[LeadStatus.CLOSED, LeadStatus.LOST])
            .order_by("pk")[:LEADS]
        )
        now = timezone.now()
        created = 0
        for index, lead in enumerate(leads):
            with transaction.atomic():  # one lead's activity, relayed once it commits
                for event in _story(index, now):
                    created += record_web_event(lead=lead, **event)[1]
        self.stdout.write(f"Website activity: {created} demo event(s) added for {len(leads)} lead(s).")


def _story(index: int, now) -> list[dict]:
    """A lead's browsing: a few listing views over the last week, sometimes a save, a saved
    search, registering or an inquiry; the first lead views one listing three times."""
    rng = random.Random(index)
    events = []

    def add(kind: str, hours_ago: float, ref: str = "", **extra) -> None:
        n = len(events)
        events.append(
            {
                "kind": kind,
                "occurred_at": now - timedelta(hours=hours_ago),
                "event_id": f"demo-{index}-{n}",
                "listing_ref": ref,
                "listing_url": f"{IDX}/listings/{ref}" if ref else "",
                "page_url": f"{IDX}/search",
                **extra,
            }
        )

    add(WebEventKind.REGISTERED, 24 * 6 + index)
    refs = [f"DEMO-{1000 + rng.randrange(400)}" for _ in range(rng.randint(2, 7))]
    for ref in refs:
        add(WebEventKind.LISTING_VIEWED, rng.uniform(1, 24 * 6), ref)
    if index == 0:
        for hours in (30, 12, 2):  # the same listing three times this week: "Hot on a listing"
            add(WebEventKind.LISTING_VIEWED, hours, "DEMO-1234")
    if rng.random() < 0.5:
        add(WebEventKind.LISTING_SAVED, rng.uniform(1, 48), refs[0])
    if rng.random() < 0.3:
        add(
            WebEventKind.SEARCH_SAVED, rng.uniform(1, 72), search={"city": "Austin", "min_beds": 3, "max_price": 600000}
        )
    if rng.random() < 0.2:
        add(WebEventKind.INQUIRY, rng.uniform(1, 24), refs[-1], data={"message": "Is it still available?"})
    return sorted(events, key=lambda event: event["occurred_at"])
