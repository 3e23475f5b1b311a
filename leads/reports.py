"""Reads for the dashboard: counts, medians and chart series over the leads a user
may see. Each function starts from ``selectors.visible_leads(user)`` and costs a
fixed number of queries, whatever the number of leads."""

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncWeek
from django.utils import timezone

from leads.followups import open_follow_ups
from leads.models import Lead, LeadSource, LeadStatus, Role, SlaStatus, User
from leads.selectors import visible_leads

FUNNEL_STATUSES = [
    LeadStatus.NEW,
    LeadStatus.CONTACTED,
    LeadStatus.QUALIFIED,
    LeadStatus.SHOWING,
    LeadStatus.OFFER,
    LeadStatus.UNDER_CONTRACT,
    LeadStatus.CLOSED,
    LeadStatus.NURTURE,
    LeadStatus.LOST,
]
SCORE_BUCKETS = [(0, 19), (20, 39), (40, 59), (60, 79), (80, 100)]
CHART_WEEKS = 8
SPEED_TO_LEAD_DAYS = 30
CONVERSION_DAYS = 90
WAITING_LIST_SIZE = 8


@dataclass(frozen=True)
class Headline:
    new_today: int
    new_this_week: int
    waiting_for_first_contact: int
    overdue_follow_ups: int
    median_minutes_to_first_contact: float | None  # None: no lead contacted in the window yet
    conversion_rate: float | None  # percent; None: no leads in the window
    conversion_window_days: int = CONVERSION_DAYS
    speed_window_days: int = SPEED_TO_LEAD_DAYS


@dataclass(frozen=True)
class AgentRow:
    agent: User
    leads: int
    contacted_within_sla: int
    sla_decided: int  # leads whose first-contact deadline is met or breached
    conversions: int

    @property
    def sla_rate(self) -> float | None:
        return round(100 * self.contacted_within_sla / self.sla_decided, 1) if self.sla_decided else None


def start_of_day(now: datetime) -> datetime:
    return timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)


def start_of_week(now: datetime) -> datetime:
    """Monday 00:00 of the week holding ``now`` (in the current time zone)."""
    today = start_of_day(now)
    return today - timedelta(days=today.weekday())


def headline(*, user: User, now: datetime) -> Headline:
    """The dashboard's cards. Four queries."""
    leads = visible_leads(user)
    window_start = now - timedelta(days=CONVERSION_DAYS)
    counts = leads.aggregate(
        new_today=Count("id", filter=Q(created_at__gte=start_of_day(now))),
        new_this_week=Count("id", filter=Q(created_at__gte=start_of_week(now))),
        waiting=Count("id", filter=_waiting_for_first_contact()),
        window_total=Count("id", filter=Q(created_at__gte=window_start)),
        window_closed=Count("id", filter=Q(created_at__gte=window_start, status=LeadStatus.CLOSED)),
    )
    overdue = open_follow_ups(user=user, everyone=user.sees_all_leads).filter(due_at__lt=now).count()
    minutes = _minutes_to_first_contact(leads.filter(created_at__gte=now - timedelta(days=SPEED_TO_LEAD_DAYS)))
    total = counts["window_total"]
    return Headline(
        new_today=counts["new_today"],
        new_this_week=counts["new_this_week"],
        waiting_for_first_contact=counts["waiting"],
        overdue_follow_ups=overdue,
        median_minutes_to_first_contact=round(statistics.median(minutes), 1) if minutes else None,
        conversion_rate=round(100 * counts["window_closed"] / total, 1) if total else None,
    )


def waiting_for_first_contact(*, user: User, limit: int = WAITING_LIST_SIZE) -> list[Lead]:
    """New leads nobody has reached yet, oldest first. One query."""
    return list(
        visible_leads(user)
        .filter(_waiting_for_first_contact())
        .select_related("contact", "assigned_to")
        .order_by("created_at", "id")[:limit]
    )


def status_funnel(*, user: User) -> dict:
    """Leads per status, in pipeline order. One query."""
    counts = dict(visible_leads(user).order_by().values_list("status").annotate(total=Count("id")))
    return {
        "labels": [status.label for status in FUNNEL_STATUSES],
        "values": [counts.get(status.value, 0) for status in FUNNEL_STATUSES],
    }


def new_leads_by_source(*, user: User, now: datetime, weeks: int = CHART_WEEKS) -> dict:
    """New leads per week (Monday start) and source, the last ``weeks`` weeks. One query."""
    first_week = start_of_week(now) - timedelta(weeks=weeks - 1)
    week_starts = [first_week + timedelta(weeks=index) for index in range(weeks)]
    rows = (
        visible_leads(user)
        .filter(created_at__gte=first_week)
        .annotate(week=TruncWeek("created_at"))
        .order_by()
        .values_list("week", "source")
        .annotate(total=Count("id"))
    )
    by_source: dict[str, list[int]] = {}
    for week, source, total in rows:
        index = (timezone.localtime(week).date() - first_week.date()).days // 7
        if 0 <= index < weeks:
            by_source.setdefault(source, [0] * weeks)[index] += total
    labels = dict(LeadSource.choices)
    return {
        "labels": [week.strftime("%b %d") for week in week_starts],
        "datasets": [
            {"label": labels.get(source, source), "data": values}
            for source, values in sorted(by_source.items(), key=lambda item: -sum(item[1]))
        ],
    }


def score_distribution(*, user: User) -> dict:
    """How many leads fall in each score band, and how many wait for a score. One query."""
    aggregates = {f"band_{low}": Count("id", filter=Q(score__gte=low, score__lte=high)) for low, high in SCORE_BUCKETS}
    counts = visible_leads(user).aggregate(pending=Count("id", filter=Q(score__isnull=True)), **aggregates)
    return {
        "labels": [f"{low}-{high}" for low, high in SCORE_BUCKETS],
        "values": [counts[f"band_{low}"] for low, _ in SCORE_BUCKETS],
        "pending": counts["pending"],
    }


def speed_to_lead_by_week(*, user: User, now: datetime, weeks: int = CHART_WEEKS) -> dict:
    """Median minutes from arrival to first contact, per week of arrival. One query."""
    first_week = start_of_week(now) - timedelta(weeks=weeks - 1)
    week_starts = [first_week + timedelta(weeks=index) for index in range(weeks)]
    per_week: list[list[float]] = [[] for _ in range(weeks)]
    pairs = (
        visible_leads(user)
        .filter(created_at__gte=first_week, first_contacted_at__isnull=False)
        .order_by()
        .values_list("created_at", "first_contacted_at")
    )
    for created_at, contacted_at in pairs:
        index = (timezone.localtime(created_at) - first_week).days // 7
        if 0 <= index < weeks:
            per_week[index].append(max(0.0, (contacted_at - created_at).total_seconds() / 60))
    return {
        "labels": [week.strftime("%b %d") for week in week_starts],
        "values": [round(statistics.median(values), 1) if values else None for values in per_week],
    }


def agent_table(*, user: User) -> list[AgentRow]:
    """Per agent: leads, first contacts within the SLA, conversions. Managers only; one query."""
    if not user.sees_all_leads:
        return []
    agents = (
        User.objects.filter(is_active=True, role=Role.AGENT)
        .annotate(
            lead_count=Count("assigned_leads"),
            sla_met=Count("assigned_leads", filter=Q(assigned_leads__sla_status=SlaStatus.MET)),
            sla_decided=Count(
                "assigned_leads",
                filter=Q(assigned_leads__sla_status__in=[SlaStatus.MET, SlaStatus.BREACHED]),
            ),
            conversions=Count("assigned_leads", filter=Q(assigned_leads__status=LeadStatus.CLOSED)),
        )
        .order_by("-lead_count", "username")
    )
    return [
        AgentRow(
            agent=agent,
            leads=agent.lead_count,
            contacted_within_sla=agent.sla_met,
            sla_decided=agent.sla_decided,
            conversions=agent.conversions,
        )
        for agent in agents
    ]


def _waiting_for_first_contact() -> Q:
    return Q(first_contacted_at__isnull=True, status=LeadStatus.NEW)


def _minutes_to_first_contact(leads: QuerySet[Lead]) -> list[float]:
    pairs = leads.filter(first_contacted_at__isnull=False).order_by().values_list("created_at", "first_contacted_at")
    return [max(0.0, (contacted - created).total_seconds() / 60) for created, contacted in pairs]
