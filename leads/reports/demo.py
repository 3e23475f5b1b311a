"""The reports' part of the demo (``manage.py seed_reports_demo``, run by ``seed_demo``):
the demo leads' pipeline moves spread between their arrival and now (the demo writes
them all at once, which would leave nothing to see in Time in stage), their deals dated
as their closing, a deal under contract for the leads under contract, and three
months of spend on the sources; the stage figures are recounted from the dated moves.
Runs once: it stops when the demo team has spend."""

import random
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from leads.core import bookkeeping
from leads.deals.models import Deal, DealStage, SourceSpend
from leads.deals.services import team_commission
from leads.demo import DEMO_EMAIL_DOMAIN
from leads.models import Lead, LeadSource, LeadStatus, StatusChange, Team

SPEND_MONTHS = 3
# Monthly spend per source, in dollars: paid portals cost most, referrals nothing.
MONTHLY_SPEND = {
    LeadSource.ZILLOW: 2400,
    LeadSource.REALTOR_COM: 1600,
    LeadSource.PAID_SEARCH: 1200,
    LeadSource.SOCIAL_MEDIA: 700,
    LeadSource.DIRECT_MAIL: 900,
    LeadSource.OPEN_HOUSE: 250,
    LeadSource.WEBSITE: 400,
}


@transaction.atomic
def seed_reports_demo(*, team: Team | None) -> bool:
    """Date the demo's history and record its spend; False when already done."""
    if SourceSpend.objects.filter(team=team).exists():
        return False
    now = timezone.now()
    rng = random.Random(2026)
    leads = Lead.objects.filter(contact__email__endswith=DEMO_EMAIL_DOMAIN).order_by("pk")
    for lead in leads.prefetch_related("status_changes", "deals"):
        moves = sorted(lead.status_changes.all(), key=lambda change: (change.changed_at, change.pk))
        arrival, later = moves[0].changed_at, moves[1:]
        span = now - arrival
        for number, change in enumerate(later, start=1):
            # Even steps from the arrival to a little before now, with some jitter.
            change.changed_at = arrival + span * (number / (len(later) + 1)) * rng.uniform(0.85, 1.0)
        StatusChange.objects.bulk_update(later, ["changed_at"])
        for deal in lead.deals.all():
            closing = next((change for change in reversed(later) if change.to_status == LeadStatus.CLOSED), None)
            if closing is not None:
                Deal.objects.filter(pk=deal.pk).update(closed_on=timezone.localdate(closing.changed_at))
        if lead.status == LeadStatus.UNDER_CONTRACT and not lead.deals.all():
            price = Decimal(rng.choice([520, 680, 840, 990])) * 1000
            rate, split = Decimal("2.5"), Decimal("70")
            Deal.objects.create(
                lead=lead,
                agent=lead.assigned_to,
                property_address=f"{rng.randint(10, 990)} Pine St",
                price=price,
                commission_rate=rate,
                team_split=split,
                team_commission=team_commission(price=price, rate=rate, amount=None, split=split),
                stage=DealStage.UNDER_CONTRACT,
                contract_date=timezone.localdate(later[-1].changed_at) if later else None,
            )
    bookkeeping.recount_stage_figures(list(leads.values_list("pk", flat=True)))  # the moves were dated
    month = timezone.localdate(now).replace(day=1)
    for _ in range(SPEND_MONTHS):
        for source, amount in MONTHLY_SPEND.items():
            SourceSpend.objects.create(team=team, source=source, month=month, amount=Decimal(amount))
        month = (month - timedelta(days=1)).replace(day=1)
    return True
