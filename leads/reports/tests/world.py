"""A small brokerage with a history: leads walked through the pipeline at known times,
their interactions, deals and the spend on their sources. Built with factory-boy and
plain rows, for the reports' tests and the browser tests."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone

from leads.core.bookkeeping import recount_stage_figures
from leads.deals.models import Deal, DealStage, SourceSpend
from leads.deals.services import team_commission
from leads.models import Interaction, Lead, LeadStatus, Role, SlaStatus, StatusChange, User
from leads.tests.factories import LeadFactory, UserFactory

PATH = [
    LeadStatus.NEW,
    LeadStatus.CONTACTED,
    LeadStatus.QUALIFIED,
    LeadStatus.SHOWING,
    LeadStatus.OFFER,
    LeadStatus.UNDER_CONTRACT,
    LeadStatus.CLOSED,
]
SOURCES = ["website", "zillow", "referral"]
TYPES = ["buyer", "seller"]
INTERACTIONS = ["call", "text", "email", "showing", "note"]


@dataclass
class World:
    agents: list[User]
    leads: list[Lead]
    start: date
    end: date


def build_world(*, count: int = 36) -> World:
    now = timezone.now()
    agents = [UserFactory(username=f"rep_{name}", role=Role.AGENT) for name in ("ann", "bob")]
    leads = []
    for index in range(count):
        agent = agents[index % 2] if index % 5 else None
        created = now - timedelta(days=index * 1.1 + 0.3, hours=index % 7)
        lead = LeadFactory(
            assigned_to=agent,
            source=SOURCES[index % 3],
            lead_type=TYPES[index % 2],
        )
        steps = PATH[: 1 + index % 7]
        if index % 6 == 5:
            steps = [*steps, LeadStatus.LOST]
        at, changes, previous = created, [], ""
        for step in steps:
            changes.append(StatusChange(lead=lead, from_status=previous, to_status=step, changed_at=at))
            previous, last_at, at = step, at, at + timedelta(days=1 + index % 3, hours=index % 5)
        StatusChange.objects.bulk_create(changes)
        contacted = created + timedelta(minutes=7 * (index % 9) + 3) if len(steps) > 1 else None
        Lead.objects.filter(pk=lead.pk).update(
            created_at=created,
            status=steps[-1],
            first_contacted_at=contacted,
            sla_status=SlaStatus.PENDING if contacted is None else (SlaStatus.MET if index % 4 else SlaStatus.BREACHED),
        )
        if agent is not None:
            Interaction.objects.bulk_create(
                Interaction(
                    lead=lead,
                    type=INTERACTIONS[(index + offset) % 5],
                    summary="Touch",
                    created_by=agent,
                    occurred_at=created + timedelta(hours=offset * 5),
                )
                for offset in range(index % 4)
            )
        if steps[-1] == LeadStatus.CLOSED or (index % 11 == 3):
            price = Decimal(300000 + 10000 * index)
            rate = Decimal("2.5") if index % 2 else None
            amount = None if rate else Decimal(9000 + index)
            split = Decimal(50 + index % 4 * 10)
            closed = steps[-1] == LeadStatus.CLOSED
            Deal.objects.create(
                lead=lead,
                agent=agent,
                property_address=f"{index} Main St",
                price=price,
                commission_rate=rate,
                commission_amount=amount,
                team_split=split,
                team_commission=team_commission(price=price, rate=rate, amount=amount, split=split),
                stage=DealStage.CLOSED if closed else DealStage.FELL_THROUGH,
                closed_on=min(timezone.localdate(last_at), timezone.localdate(now)) if closed else None,
            )
        leads.append(lead)
    # The history was written as it stood (plain rows, like imported history): the
    # stage figures are recounted from it, as the migration that fills them does.
    recount_stage_figures(leads)
    today = timezone.localdate(now)
    month = today.replace(day=1)
    for months_back in range(3):  # this month and the two before
        for number, source in enumerate(SOURCES):
            SourceSpend.objects.create(source=source, month=month, amount=Decimal(1000 * (number + 1) + months_back))
        month = (month - timedelta(days=1)).replace(day=1)
    return World(agents=agents, leads=leads, start=today - timedelta(days=29), end=today)
