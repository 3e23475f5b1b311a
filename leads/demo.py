"""The demo team's story: a recent, plausible history for ``manage.py seed_demo``.

Leads arrived over the last eight weeks (the dashboard's charts cover eight); the
older a lead, the further down the pipeline it is. Most were first contacted well
within their first-contact SLA (set by urgency, see the workflows' SLA settings), a
few too late; the leads still waiting for a first call arrived today, but for one or
two from the last days that missed it. Open leads have a follow-up: some due later
today, a few overdue, the rest in the coming week.

``plan_leads`` is pure (a plan from a seed and a clock); ``write_plan`` writes it
through the services, as an agent would have: ``LeadManagementService`` and the
follow-up service, and ``bookkeeping.set_arrival_time`` to date each arrival.
"""

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from faker import Faker

from leads.core import bookkeeping, followups
from leads.core.services import LeadManagementService
from leads.models import (
    AuditChannel,
    ContactChannel,
    FinancingStatus,
    InteractionDirection,
    InteractionType,
    LeadSource,
    LeadStatus,
    LeadType,
    PropertyType,
    UrgencyLevel,
    User,
)

DEMO_TAG = "demo"
STREETS = ["Oak St", "Maple Ave", "Cedar Ln", "Valencia St", "Shattuck Ave", "Alameda Blvd", "Hillside Dr"]
DEMO_EMAIL_DOMAIN = "@demo-leads.example.com"
CITIES = ["San Francisco", "Oakland", "San Jose", "Berkeley", "Palo Alto", "Fremont", "Walnut Creek", "San Mateo"]

# The first nine cover every status (the shortest demo still shows each); eleven is
# prime to the three agents, so each agent gets leads in every status.
STATUS_CYCLE = [
    LeadStatus.NEW,
    LeadStatus.CONTACTED,
    LeadStatus.QUALIFIED,
    LeadStatus.SHOWING,
    LeadStatus.OFFER,
    LeadStatus.UNDER_CONTRACT,
    LeadStatus.CLOSED,
    LeadStatus.LOST,
    LeadStatus.NURTURE,
    LeadStatus.CONTACTED,
    LeadStatus.QUALIFIED,
]
# How long ago (days) a lead in each status arrived: further along, older.
AGE_DAYS = {
    LeadStatus.CONTACTED: (0.2, 8),
    LeadStatus.QUALIFIED: (2, 18),
    LeadStatus.SHOWING: (5, 28),
    LeadStatus.OFFER: (10, 35),
    LeadStatus.UNDER_CONTRACT: (15, 45),
    LeadStatus.CLOSED: (22, 55),
    LeadStatus.LOST: (4, 50),
    LeadStatus.NURTURE: (8, 55),
}
# The statuses passed on the way to each (after "contacted", which the first call sets).
PATHS = {
    LeadStatus.NEW: [],
    LeadStatus.CONTACTED: [],
    LeadStatus.QUALIFIED: [LeadStatus.QUALIFIED],
    LeadStatus.SHOWING: [LeadStatus.QUALIFIED, LeadStatus.SHOWING],
    LeadStatus.OFFER: [LeadStatus.QUALIFIED, LeadStatus.SHOWING, LeadStatus.OFFER],
    LeadStatus.UNDER_CONTRACT: [LeadStatus.QUALIFIED, LeadStatus.SHOWING, LeadStatus.OFFER, LeadStatus.UNDER_CONTRACT],
    LeadStatus.CLOSED: [
        LeadStatus.QUALIFIED,
        LeadStatus.SHOWING,
        LeadStatus.OFFER,
        LeadStatus.UNDER_CONTRACT,
        LeadStatus.CLOSED,
    ],
    LeadStatus.LOST: [LeadStatus.QUALIFIED, LeadStatus.LOST],
    LeadStatus.NURTURE: [LeadStatus.NURTURE],
}
# What happened after the first call, by the status reached: (type, direction, summary).
LATER_CONTACTS = {
    LeadStatus.QUALIFIED: [(InteractionType.EMAIL, InteractionDirection.OUTBOUND, "Sent listings in {city}")],
    LeadStatus.SHOWING: [(InteractionType.SHOWING, InteractionDirection.OUTBOUND, "Toured two homes in {city}")],
    LeadStatus.OFFER: [(InteractionType.MEETING, InteractionDirection.OUTBOUND, "Wrote an offer on the {city} home")],
    LeadStatus.UNDER_CONTRACT: [
        (InteractionType.CALL, InteractionDirection.INBOUND, "Offer accepted; inspection booked")
    ],
    LeadStatus.CLOSED: [(InteractionType.MEETING, InteractionDirection.OUTBOUND, "Closing: handed over the keys")],
    LeadStatus.LOST: [(InteractionType.CALL, InteractionDirection.INBOUND, "Bought through another agent")],
    LeadStatus.NURTURE: [
        (InteractionType.EMAIL, InteractionDirection.INBOUND, "Not moving until next year; keep in touch")
    ],
}
STAGE_ORDER = [
    LeadStatus.QUALIFIED,
    LeadStatus.SHOWING,
    LeadStatus.OFFER,
    LeadStatus.UNDER_CONTRACT,
    LeadStatus.CLOSED,
]
FOLLOW_UP_TITLES = {
    LeadStatus.CONTACTED: "Send matching listings in {city}",
    LeadStatus.QUALIFIED: "Book a showing in {city}",
    LeadStatus.SHOWING: "Ask how the {city} showing went",
    LeadStatus.OFFER: "Chase the sellers' answer on the offer",
    LeadStatus.UNDER_CONTRACT: "Confirm the inspection date",
    LeadStatus.NURTURE: "Send the monthly {city} market update",
}
# When open leads' follow-ups fall due, in turn: a third later today, one in sixteen overdue.
FOLLOW_UP_DUE = ["today", "upcoming", "upcoming"] * 5 + ["overdue"]
URGENCY_WEIGHTS = {UrgencyLevel.URGENT: 2, UrgencyLevel.HIGH: 4, UrgencyLevel.NORMAL: 6, UrgencyLevel.LOW: 2}
LATE_FIRST_CONTACTS = 0.15  # the share of contacted leads first called after their SLA
LATE_NEW_LEADS = 4  # one uncontacted lead in this many missed its SLA (arrived in the last days)


@dataclass
class LeadPlan:
    """One demo lead: who it is, when it arrived, and what has happened since."""

    index: int
    status: str
    urgency: str
    arrived_at: datetime
    first_contact_at: datetime | None
    city: str
    financing: str
    later_contacts: list[tuple[str, str, str, datetime]] = field(default_factory=list)
    follow_up: tuple[str, datetime] | None = None


def first_contact_sla(urgency: str) -> timedelta:
    """The time the workflows allow a lead of ``urgency`` to its first contact
    (``LEAD_FIRST_CONTACT_SLA_MINUTES``, which they read too)."""
    minutes = settings.LEAD_FIRST_CONTACT_SLA_MINUTES
    return timedelta(minutes=minutes.get(urgency, minutes[UrgencyLevel.NORMAL]))


def plan_leads(count: int, *, now: datetime, seed: int = 2026) -> list[LeadPlan]:
    """The demo's ``count`` leads as of ``now``; the same seed and clock give the same plan."""
    rng = random.Random(seed)
    today_start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    plans, new_seen, open_seen = [], 0, 0
    for index in range(count):
        status = STATUS_CYCLE[index % len(STATUS_CYCLE)]
        urgency = rng.choices(list(URGENCY_WEIGHTS), weights=list(URGENCY_WEIGHTS.values()))[0]
        sla = first_contact_sla(urgency)
        plan = LeadPlan(
            index=index,
            status=status,
            urgency=urgency,
            arrived_at=now,
            first_contact_at=None,
            city=rng.choice(CITIES),
            financing=_financing(status, rng),
        )
        if status == LeadStatus.NEW:
            new_seen += 1
            plan.arrived_at = now - _waiting_time(sla, late=new_seen % LATE_NEW_LEADS == 0, now=now, rng=rng)
        else:
            low, high = AGE_DAYS[status]
            plan.arrived_at = now - timedelta(days=rng.uniform(low, high))
            plan.first_contact_at = plan.arrived_at + _first_contact_delay(sla, plan.arrived_at, now=now, rng=rng)
            plan.later_contacts = _later_contacts(plan, now=now, rng=rng)
        if status in FOLLOW_UP_TITLES:
            due = FOLLOW_UP_DUE[open_seen % len(FOLLOW_UP_DUE)]
            open_seen += 1
            title = FOLLOW_UP_TITLES[status].format(city=plan.city)
            plan.follow_up = (title, _due_at(due, now=now, today_start=today_start, rng=rng))
        plans.append(plan)
    return plans


def _financing(status: str, rng: random.Random) -> str:
    """Leads who got far are the ones with their financing ready."""
    if status in (LeadStatus.OFFER, LeadStatus.UNDER_CONTRACT, LeadStatus.CLOSED):
        return rng.choice([FinancingStatus.PRE_APPROVED, FinancingStatus.PRE_APPROVED, FinancingStatus.CASH])
    if status in (LeadStatus.LOST, LeadStatus.NURTURE):
        return rng.choice([FinancingStatus.NOT_STARTED, FinancingStatus.PRE_QUALIFIED])
    return rng.choice(FinancingStatus.values)


def _waiting_time(sla: timedelta, *, late: bool, now: datetime, rng: random.Random) -> timedelta:
    """How long an uncontacted lead has waited: within its SLA and since midnight, or
    (``late``) past its SLA by up to a few days."""
    if late:
        return min(sla * rng.uniform(1.5, 4), timedelta(days=2, hours=rng.uniform(0, 12)))
    since_midnight = now - timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    waited = sla * rng.uniform(0.1, 0.6)
    if waited > since_midnight > timedelta(minutes=10):
        return since_midnight * rng.uniform(0.2, 0.9)
    return waited


def _first_contact_delay(sla: timedelta, arrived_at: datetime, *, now: datetime, rng: random.Random) -> timedelta:
    """Arrival to first call: mostly well within the SLA, now and then too late; always
    before ``now``."""
    room = now - arrived_at - timedelta(minutes=5)
    delay = sla * (rng.uniform(1.3, 3) if rng.random() < LATE_FIRST_CONTACTS else rng.uniform(0.05, 0.5))
    if delay >= room:  # a recent lead: called within what time it has had
        delay = room * rng.uniform(0.2, 0.8)
    return delay


def _later_contacts(plan: LeadPlan, *, now: datetime, rng: random.Random) -> list[tuple[str, str, str, datetime]]:
    """The interactions after the first call, one per stage reached, spread in time."""
    reached = [stage for stage in STAGE_ORDER if stage in PATHS[plan.status]] or [plan.status]
    steps = [step for stage in reached for step in LATER_CONTACTS.get(stage, [])]
    if not steps:
        return []
    start, span = plan.first_contact_at, now - plan.first_contact_at - timedelta(minutes=30)
    contacts = []
    for number, (kind, direction, summary) in enumerate(steps, start=1):
        at = start + span * (number / (len(steps) + 1)) * rng.uniform(0.8, 1.0)
        contacts.append((kind, direction, summary.format(city=plan.city), at))
    return contacts


def _due_at(when: str, *, now: datetime, today_start: datetime, rng: random.Random) -> datetime:
    if when == "overdue":
        return now - timedelta(hours=rng.uniform(2, 20))
    if when == "today":
        left = today_start + timedelta(days=1) - now
        if left < timedelta(minutes=40):
            return now + left / 2
        return now + min(timedelta(hours=rng.uniform(0.5, 6)), left - timedelta(minutes=10))
    return today_start + timedelta(days=rng.randint(1, 6), hours=rng.randint(9, 17))


# --- writing the plan -------------------------------------------------------------


def write_plan(plans: list[LeadPlan], *, manager: User, agents: list[User], seed: int = 2026) -> None:
    """Write each planned lead through the services: created by the manager for its agent,
    dated, then called, moved along and given its follow-up by the agent."""
    fake = Faker("en_US")
    Faker.seed(seed)
    rng = random.Random(seed)
    creator = LeadManagementService(manager, channel=AuditChannel.SYSTEM)
    for plan in plans:
        agent = agents[plan.index % len(agents)]
        first, last = fake.first_name(), fake.last_name()
        lead = creator.create_lead(_lead_data(plan, first=first, last=last, agent=agent, rng=rng))
        bookkeeping.set_arrival_time(lead, plan.arrived_at)
        service = LeadManagementService(agent, channel=AuditChannel.SYSTEM)
        if plan.first_contact_at is not None:
            service.add_interaction(
                lead.public_id,
                {
                    "type": InteractionType.CALL,
                    "summary": "Intro call: talked budget and neighbourhoods",
                    "notes": fake.sentence(nb_words=14),
                    "next_steps": "Send matching listings",
                    "occurred_at": plan.first_contact_at,
                },
            )
        for kind, direction, summary, at in plan.later_contacts:
            service.add_interaction(
                lead.public_id, {"type": kind, "direction": direction, "summary": summary, "occurred_at": at}
            )
        for step in PATHS[plan.status]:
            deal = _closing_deal(plan) if step == LeadStatus.CLOSED else None
            service.change_status(lead.public_id, step, deal=deal)
        if plan.follow_up is not None:
            title, due_at = plan.follow_up
            followups.follow_up_create(actor=agent, lead_id=lead.public_id, title=title, due_at=due_at)


def _closing_deal(plan: LeadPlan) -> dict:
    """The deal a demo lead closes with (``seed_reports_demo`` dates it as its history);
    its own random draws, so the rest of the demo stays as it was."""
    rng = random.Random(plan.index)
    price = Decimal(rng.choice([480, 615, 760, 890, 1050, 1240])) * 1000
    return {
        "property_address": f"{rng.randint(10, 990)} {rng.choice(STREETS)}, {plan.city}",
        "price": price,
        "commission_rate": Decimal(rng.choice(["2.5", "2.5", "3", "2.25"])),
        "team_split": Decimal(rng.choice([60, 70, 70, 80])),
        "stage": "closed",
        "closed_on": timezone.localdate(),
    }


def _lead_data(plan: LeadPlan, *, first: str, last: str, agent: User, rng: random.Random) -> dict:
    low = rng.choice([400, 550, 700, 850, 1000, 1300]) * 1000
    lead_type = rng.choice([LeadType.BUYER] * 4 + LeadType.values)
    return {
        "contact": {
            "first_name": first,
            "last_name": last,
            "email": f"{first}.{last}.{plan.index}{DEMO_EMAIL_DOMAIN}".lower(),
            "phone": f"+1415555{plan.index:04d}",
            "phone_is_valid": True,
            "preferred_contact_method": rng.choice(ContactChannel.values),
        },
        "lead_type": lead_type,
        "source": rng.choice(LeadSource.values),
        "assigned_to": agent,
        "tags": [DEMO_TAG],
        "preferences": {
            "property_types": rng.sample(PropertyType.values[:4], k=rng.randint(1, 2)),
            "min_price": low,
            "max_price": low + rng.choice([150, 250, 400]) * 1000,
            "preferred_locations": [plan.city, *rng.sample([city for city in CITIES if city != plan.city], k=1)][
                : rng.randint(1, 2)
            ],
            "min_bedrooms": rng.randint(1, 4),
        },
        "timeline": {
            "urgency_level": plan.urgency,
            "financing_status": plan.financing,
            "target_move_date": (plan.arrived_at + timedelta(days=rng.randint(30, 240))).date(),
        },
    }
