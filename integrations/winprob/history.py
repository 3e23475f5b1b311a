"""A history of leads with outcomes, drawn from a documented hidden process, for the demo and
the bench (``bench/winprob_bench.py``): the backtest then has something real to find.

The hidden process, per lead (``interest`` is a logit; nothing below is read by the model
except through what the product records):

- ``interest = -2.4 + financing + urgency + source(t) + budget + type + noise``, with
  financing (cash +1.1, pre-approved +0.9, pre-qualified +0.4, not started -0.3; none for
  sellers and renters), urgency (urgent +0.7, high +0.4, low -0.5), the source's effect,
  budget against the market (within +0.4, above +0.3, below -0.02 per % under), renters
  -0.4, investors +0.2, and noise ~ N(0, 1).
- **Drift**: ``t`` runs from 0 (oldest lead) to 1 (newest); paid search starts at -0.6 and
  gains +0.9 over the period, social media loses 0.4: a model trained on old leads only
  would misjudge the newest ones.
- The lead is won with probability ``sigmoid(interest)``, on a day ~ 20 + Gamma(2, 30),
  so some wins fall past the 180-day horizon.
- Engagement follows interest: the agent's first call comes after Exp(6 h); further
  interactions ~ Poisson(1 + 3 * sigmoid(interest + 1)), spread over the lead's life; each
  is a reply with probability 0.6 * sigmoid(interest + 0.5), a showing with 0.25 *
  sigmoid(interest + 1.5). Won leads get a showing shortly before they close.
- The pipeline follows the outcome: won leads pass qualified, showing, offer and under
  contract to closed; of the others, up to 30% (``0.3 * sigmoid(interest + 2.5)``) reach
  qualified 3..40 days after the first call and 40% of those a showing 3..30 days later;
  then 55% are lost on a day in 5..150 (after their last stage), 15% go to nurture, the
  rest stay where they were.
- Every lead has a valid phone, 90% an email too. Names, email domains, languages and locations are drawn at random,
  independent of the outcome (the fair-housing test relies on the model not reading them anyway).

Rows are written with ``bulk_create`` (no lead events, no pipeline): the history is the
past, already analysed; each won lead gets its closed deal (``leads.deals``).
``market_analysis`` holds the budget comparison the model and the rule-based score read.
"""

import math
import random
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from leads.core import bookkeeping, writes
from leads.deals.models import Deal, DealStage
from leads.deals.services import team_commission
from leads.models import (
    Contact,
    Interaction,
    Lead,
    LeadStatus,
    LeadType,
    Preferences,
    StatusChange,
    Team,
    Timeline,
    User,
)

HISTORY_EMAIL_DOMAINS = ("history-mail.example", "inbox-history.example", "post-history.example")
HISTORY_TAG = "winprob-history"
FINANCING = {"cash": 1.1, "pre_approved": 0.9, "pre_qualified": 0.4, "not_started": -0.3}
URGENCY = {"urgent": 0.7, "high": 0.4, "normal": 0.0, "low": -0.5}
SOURCES = {
    "referral": 0.8,
    "past_client": 1.0,
    "open_house": 0.3,
    "website": 0.0,
    "zillow": -0.1,
    "realtor_com": -0.1,
    "paid_search": -0.6,
    "social_media": -0.3,
    "direct_mail": -0.4,
    "phone_inquiry": 0.4,
    "walk_in": 0.3,
    "other": -0.2,
}
DRIFT = {"paid_search": 0.9, "social_media": -0.4}
LOCATIONS = ("Austin, TX", "Denver, CO", "Miami, FL", "Seattle, WA", "Phoenix, AZ")
LANGUAGES = ("en", "es", "zh", "vi", "")
FIRST_NAMES = ("Avery", "Jordan", "Riley", "Sam", "Taylor", "Casey", "Quinn", "Morgan", "Rowan", "Emerson")
WON_PATH = ["contacted", "qualified", "showing", "offer", "under_contract", "closed"]


def _sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-value))


@contextmanager
def _own_timestamps():
    """Let ``bulk_create`` keep the history's own created/updated times (the fields set
    them to now otherwise). Restored on exit."""
    created, updated = Lead._meta.get_field("created_at"), Lead._meta.get_field("updated_at")
    saved = created.auto_now_add, updated.auto_now
    created.auto_now_add, updated.auto_now = False, False
    try:
        yield
    finally:
        created.auto_now_add, updated.auto_now = saved


def generate(
    count: int,
    *,
    now: datetime | None = None,
    days: int = 540,
    seed: int = 13,
    team: Team | None = None,
    agents: list[User] | None = None,
    batch: int = 5000,
    progress=None,
) -> int:
    """Write ``count`` historic leads created over the ``days`` before ``now``; returns the count."""
    now = now or timezone.now()
    rng = random.Random(seed)
    start = now - timedelta(days=days)
    written = 0
    with _own_timestamps():
        for first in range(0, count, batch):
            size = min(batch, count - first)
            plans = [_plan(rng, first + i, count, start, days, now) for i in range(size)]
            _write(plans, team=team, agents=agents or [])
            written += size
            if progress:
                progress(written, count)
    return written


def _plan(rng: random.Random, index: int, count: int, start: datetime, days: int, now: datetime) -> dict:
    t = index / max(count - 1, 1)
    created = start + timedelta(days=t * days, minutes=rng.uniform(0, 600))
    lead_type = rng.choices(LeadType.values, weights=[50, 20, 10, 12, 8])[0]
    source = rng.choice(list(SOURCES))
    financing = rng.choices(list(FINANCING), weights=[8, 25, 30, 37])[0]
    urgency = rng.choices(list(URGENCY), weights=[10, 20, 50, 20])[0]
    position = rng.choices(["within", "above", "below", None], weights=[45, 15, 30, 10])[0]
    gap = round(rng.uniform(5, 60), 1) if position == "below" else round(rng.uniform(0, 20), 1)
    interest = -2.4 + URGENCY[urgency] + SOURCES[source] + DRIFT.get(source, 0.0) * t + rng.gauss(0, 1.0)
    if lead_type not in (LeadType.SELLER, LeadType.RENTER):
        interest += FINANCING[financing]
    interest += {"within": 0.4, "above": 0.3, "below": -0.02 * gap}.get(position, 0.0)
    interest += {"renter": -0.4, "investor": 0.2}.get(lead_type, 0.0)
    won = rng.random() < _sigmoid(interest)
    won_day = 20 + rng.gammavariate(2, 30) if won else None
    lost_day = rng.uniform(5, 150) if not won and rng.random() < 0.55 else None
    nurture_day = 30.0 if not won and lost_day is None and rng.random() < 0.33 else None
    end_day = min(d for d in (won_day, lost_day, 150.0) if d is not None)
    first_hours = rng.expovariate(1 / 6)
    interactions = [("call", "outbound", first_hours / 24)]
    for _ in range(_poisson(rng, 1 + 3 * _sigmoid(interest + 1))):
        day = rng.uniform(first_hours / 24, end_day)
        if rng.random() < 0.25 * _sigmoid(interest + 1.5):
            interactions.append(("showing", "outbound", day))
        elif rng.random() < 0.6 * _sigmoid(interest + 0.5):
            interactions.append((rng.choice(["call", "email", "text"]), "inbound", day))
        else:
            interactions.append((rng.choice(["call", "email", "text"]), "outbound", day))
    if won_day is not None:
        interactions.append(("showing", "outbound", max(won_day - rng.uniform(3, 12), first_hours / 24)))
    statuses = [("contacted", interactions[0][2])]
    if won_day is not None:
        statuses = [
            (stage, won_day * share) for stage, share in zip(WON_PATH, [0.02, 0.3, 0.5, 0.75, 0.85, 1.0], strict=True)
        ]
    else:
        # Many that are not won get as far as qualified, some to a showing, before they stall.
        day = interactions[0][2]
        if rng.random() < 0.3 * _sigmoid(interest + 2.5):
            day += rng.uniform(3, 40)
            statuses.append(("qualified", day))
            if rng.random() < 0.4:
                day += rng.uniform(3, 30)
                statuses.append(("showing", day))
        if lost_day is not None:
            statuses.append(("lost", max(lost_day, day + 1)))
        elif nurture_day is not None:
            statuses.append(("nurture", max(nurture_day, day + 1)))
    horizon = (now - created).total_seconds() / 86400
    interactions = [item for item in interactions if item[2] <= horizon]
    statuses = [item for item in statuses if item[1] <= horizon]
    return {
        "index": index,
        "created": created,
        "lead_type": lead_type,
        "source": source,
        "financing": financing,
        "urgency": urgency,
        "position": position,
        "gap": gap,
        "email": rng.random() < 0.9,
        "name": rng.choice(FIRST_NAMES),
        "domain": rng.choice(HISTORY_EMAIL_DOMAINS),
        "language": rng.choice(LANGUAGES),
        "location": rng.choice(LOCATIONS),
        "interactions": interactions,
        "statuses": statuses,
    }


def _poisson(rng: random.Random, mean: float) -> int:
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _write(plans: list[dict], *, team: Team | None, agents: list[User]) -> None:
    leads = []
    for plan in plans:
        last = plan["created"] + timedelta(days=max([day for _, day in plan["statuses"]] or [0]))
        status = plan["statuses"][-1][0] if plan["statuses"] else LeadStatus.NEW
        analysis = {"locations": [{"location": plan["location"], "status": "ok"}]}
        if plan["position"]:
            analysis["locations"][0]["budget_fit"] = {"position": plan["position"], "difference_pct": plan["gap"]}
        leads.append(
            Lead(
                lead_type=plan["lead_type"],
                source=plan["source"],
                status=status,
                team=team,
                assigned_to=agents[plan["index"] % len(agents)] if agents else None,
                metadata={"market_analysis": analysis},
                tags=[HISTORY_TAG],
                created_at=plan["created"],
                updated_at=last,
                first_contacted_at=plan["created"] + timedelta(days=plan["interactions"][0][2])
                if plan["interactions"]
                else None,
                processing_status="done",
                processed_version=1,
            )
        )
    with transaction.atomic():
        writes.insert_past_leads([(lead, _parts(lead, plan)) for lead, plan in zip(leads, plans, strict=True)])
        interactions, changes = [], []
        for lead, plan in zip(leads, plans, strict=True):
            for kind, direction, day in plan["interactions"]:
                interactions.append(
                    Interaction(
                        lead=lead,
                        type=kind,
                        direction=direction,
                        summary=f"{kind.title()} ({direction})",
                        occurred_at=lead.created_at + timedelta(days=day),
                    )
                )
            previous = LeadStatus.NEW
            changes.append(
                StatusChange(lead=lead, from_status="", to_status=LeadStatus.NEW, changed_at=lead.created_at)
            )
            for stage, day in plan["statuses"]:
                changes.append(
                    StatusChange(
                        lead=lead,
                        from_status=previous,
                        to_status=stage,
                        changed_at=lead.created_at + timedelta(days=day),
                    )
                )
                previous = stage
        Interaction.objects.bulk_create(interactions, batch_size=5000)
        StatusChange.objects.bulk_create(changes, batch_size=5000)
        bookkeeping.recount_stage_figures([lead.pk for lead in leads])  # the reports' stage figures
        Deal.objects.bulk_create(_deals(leads, plans))


def _parts(lead: Lead, plan: dict) -> list[Contact | Preferences | Timeline]:
    return [
        Contact(
            lead=lead,
            first_name=plan["name"],
            last_name=f"History {plan['index']}",
            email=f"h{plan['index']}@{plan['domain']}" if plan["email"] else "",
            phone=f"+1512555{plan['index'] % 10000:04d}",
            preferred_language=plan["language"],
        ),
        Preferences(lead=lead, preferred_locations=[plan["location"]]),
        Timeline(lead=lead, urgency_level=plan["urgency"], financing_status=plan["financing"]),
    ]


def _deals(leads: list[Lead], plans: list[dict]) -> list[Deal]:
    """Every won lead's closed deal (a closed lead always has one), priced from its index."""
    deals = []
    for lead, plan in zip(leads, plans, strict=True):
        if lead.status != LeadStatus.CLOSED:
            continue
        closed_at = lead.created_at + timedelta(days=plan["statuses"][-1][1])
        price = Decimal(400 + (plan["index"] * 37) % 600) * 1000
        rate, split = Decimal("2.5"), Decimal("70")
        deals.append(
            Deal(
                lead=lead,
                agent=lead.assigned_to,
                property_address=f"{plan['index'] % 990 + 10} History Lane",
                price=price,
                commission_rate=rate,
                team_split=split,
                team_commission=team_commission(price=price, rate=rate, amount=None, split=split),
                stage=DealStage.CLOSED,
                contract_date=timezone.localdate(lead.created_at + timedelta(days=plan["statuses"][-2][1])),
                closed_on=timezone.localdate(closed_at),
            )
        )
    return deals
