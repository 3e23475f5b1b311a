"""Reads for the dashboard: counts, medians and chart series over the leads a user
may see. Each function costs a fixed number of queries, and none reads every lead:

- counts over all live leads (per status, per agent, waiting for first contact) come
  from the maintained counters (``LeadCount``, see ``leads.reporting.counts``);
- everything else covers a recent window of arrivals (today, this week, the last
  ``CHART_WEEKS`` weeks, ``SPEED_TO_LEAD_DAYS`` or ``CONVERSION_DAYS`` days): a range
  on ``created_at``, served on PostgreSQL by the covering index of migration 0009.
"""

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Aggregate, Count, F, FloatField, Func, Q, QuerySet, Sum, Value
from django.db.models.functions import Greatest, TruncWeek
from django.utils import timezone

from leads.accounts import permissions
from leads.core.followups import open_follow_ups
from leads.core.selectors import visible_leads
from leads.models import Lead, LeadCount, LeadSource, LeadStatus, Role, SlaStatus, User
from leads.reporting import counts

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
SCORE_DAYS = 30  # the score chart covers the leads that arrived in these last days
SLA_DAYS = 30  # so does the team table's "contacted within SLA"
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


# Counts over a window of arrivals count ``created_at`` (never null) rather than ``id``:
# every column they read is then in the covering index of migration 0009.


def start_of_day(now: datetime) -> datetime:
    return timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)


def start_of_week(now: datetime) -> datetime:
    """Monday 00:00 of the week holding ``now`` (in the current time zone)."""
    today = start_of_day(now)
    return today - timedelta(days=today.weekday())


def headline(*, user: User, now: datetime, status_totals: dict[str, int] | None = None) -> Headline:
    """The dashboard's cards. Five queries, four when given ``status_totals``
    (``counts.by_status(user)``, which the funnel reads too)."""
    leads = visible_leads(user)
    window_start = now - timedelta(days=CONVERSION_DAYS)
    recent = leads.filter(created_at__gte=min(window_start, start_of_week(now))).aggregate(
        new_today=Count("created_at", filter=Q(created_at__gte=start_of_day(now))),
        new_this_week=Count("created_at", filter=Q(created_at__gte=start_of_week(now))),
        window_total=Count("created_at", filter=Q(created_at__gte=window_start)),
        window_closed=Count("created_at", filter=Q(created_at__gte=window_start, status=LeadStatus.CLOSED)),
    )
    # Waiting = new and never contacted: the counters give the new leads; the few new
    # leads with a first contact (a status set back to new, an import) are subtracted.
    new_but_contacted = leads.filter(status=LeadStatus.NEW, first_contacted_at__isnull=False).count()
    if status_totals is None:
        status_totals = counts.by_status(user)
    waiting = status_totals.get(LeadStatus.NEW, 0) - new_but_contacted
    overdue = open_follow_ups(user=user, everyone=permissions.can_view_team_leads(user)).filter(due_at__lt=now).count()
    median = _median_minutes(leads.filter(created_at__gte=now - timedelta(days=SPEED_TO_LEAD_DAYS)))
    total = recent["window_total"]
    return Headline(
        new_today=recent["new_today"],
        new_this_week=recent["new_this_week"],
        waiting_for_first_contact=waiting,
        overdue_follow_ups=overdue,
        median_minutes_to_first_contact=median,
        conversion_rate=round(100 * recent["window_closed"] / total, 1) if total else None,
    )


def waiting_for_first_contact(*, user: User, limit: int = WAITING_LIST_SIZE) -> list[Lead]:
    """New leads nobody has reached yet, oldest first. One query."""
    return list(
        visible_leads(user)
        .filter(_waiting_for_first_contact())
        .select_related("contact", "assigned_to")
        .order_by("created_at", "id")[:limit]
    )


def status_funnel(*, user: User, status_totals: dict[str, int] | None = None) -> dict:
    """Leads per status, in pipeline order. One query, none when given ``status_totals``."""
    totals = counts.by_status(user) if status_totals is None else status_totals
    return {
        "labels": [status.label for status in FUNNEL_STATUSES],
        "values": [totals.get(status.value, 0) for status in FUNNEL_STATUSES],
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
        .annotate(total=Count("created_at"))
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


def score_distribution(*, user: User, now: datetime | None = None, days: int = SCORE_DAYS) -> dict:
    """How many of the leads that arrived in the last ``days`` days fall in each score
    band, and how many of them wait for a score. One query."""
    now = now or timezone.now()
    aggregates = {f"band_{low}": Count("id", filter=Q(score__gte=low, score__lte=high)) for low, high in SCORE_BUCKETS}
    totals = (
        visible_leads(user)
        .filter(created_at__gte=now - timedelta(days=days))
        .aggregate(pending=Count("id", filter=Q(score__isnull=True)), **aggregates)
    )
    return {
        "labels": [f"{low}-{high}" for low, high in SCORE_BUCKETS],
        "values": [totals[f"band_{low}"] for low, _ in SCORE_BUCKETS],
        "pending": totals["pending"],
        "days": days,
    }


def speed_to_lead_by_week(*, user: User, now: datetime, weeks: int = CHART_WEEKS) -> dict:
    """Median minutes from arrival to first contact, per week of arrival. One query."""
    first_week = start_of_week(now) - timedelta(weeks=weeks - 1)
    week_starts = [first_week + timedelta(weeks=index) for index in range(weeks)]
    contacted = visible_leads(user).filter(created_at__gte=first_week, first_contacted_at__isnull=False).order_by()
    if connection.vendor == "postgresql":
        # One median per week, each over its own range: cheaper than sorting the
        # rows by week for a GROUP BY and then each week's minutes again.
        weekly = contacted.aggregate(
            **{
                f"week_{index}": _Median(filter=Q(created_at__gte=start, created_at__lt=start + timedelta(weeks=1)))
                for index, start in enumerate(week_starts)
            }
        )
        medians = [weekly[f"week_{index}"] for index in range(weeks)]
    else:
        per_week: list[list[float]] = [[] for _ in range(weeks)]
        for created_at, contacted_at in contacted.values_list("created_at", "first_contacted_at"):
            index = (timezone.localtime(created_at) - first_week).days // 7
            if 0 <= index < weeks:
                per_week[index].append(_minutes(created_at, contacted_at))
        medians = [statistics.median(values) if values else None for values in per_week]
    return {
        "labels": [week.strftime("%b %d") for week in week_starts],
        "values": [None if median is None else round(median, 1) for median in medians],
    }


def agent_table(*, user: User, now: datetime | None = None, sla_days: int = SLA_DAYS) -> list[AgentRow]:
    """Per active agent: live leads and conversions (closed leads) from the counters, and
    first contacts within the SLA among their leads of the last ``sla_days`` days.
    Managers only; three queries."""
    if not permissions.can_see_team_reports(user):
        return []
    now = now or timezone.now()
    agents = list(User.objects.filter(is_active=True, role=Role.AGENT))
    live = (
        LeadCount.objects.filter(assigned_to_key__in=[agent.pk for agent in agents])
        .order_by()
        .values_list("assigned_to_key")
        .annotate(leads=Sum("n"), closed=Sum("n", filter=Q(status=LeadStatus.CLOSED)))
    )
    live_by_agent = {key: (leads or 0, closed or 0) for key, leads, closed in live}
    sla = (
        visible_leads(user)
        .filter(created_at__gte=now - timedelta(days=sla_days), assigned_to__isnull=False)
        .order_by()
        .values_list("assigned_to")
        .annotate(
            met=Count("id", filter=Q(sla_status=SlaStatus.MET)),
            decided=Count("id", filter=Q(sla_status__in=[SlaStatus.MET, SlaStatus.BREACHED])),
        )
    )
    sla_by_agent = {agent_id: (met, decided) for agent_id, met, decided in sla}
    rows = []
    for agent in agents:
        leads, closed = live_by_agent.get(agent.pk, (0, 0))
        met, decided = sla_by_agent.get(agent.pk, (0, 0))
        rows.append(
            AgentRow(agent=agent, leads=leads, contacted_within_sla=met, sla_decided=decided, conversions=closed)
        )
    return sorted(rows, key=lambda row: (-row.leads, row.agent.username))


class _Median(Aggregate):
    """PostgreSQL's exact median of the minutes from arrival to first contact (as
    ``statistics.median``: the middle value, or the mean of the two middle ones)."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, **extra):
        elapsed = Func(
            F("first_contacted_at"),
            F("created_at"),
            arg_joiner=" - ",
            template="EXTRACT(EPOCH FROM (%(expressions)s))::float8 / 60",
            output_field=FloatField(),
        )
        super().__init__(Greatest(elapsed, Value(0.0)), **extra)


def _median_minutes(leads: QuerySet[Lead]) -> float | None:
    """Median minutes to first contact of the contacted ``leads``; None when none was."""
    contacted = leads.filter(first_contacted_at__isnull=False).order_by()
    if connection.vendor == "postgresql":
        median = contacted.aggregate(median=_Median())["median"]
        return None if median is None else round(median, 1)
    pairs = contacted.values_list("created_at", "first_contacted_at")
    minutes = [_minutes(created_at, contacted_at) for created_at, contacted_at in pairs]
    return round(statistics.median(minutes), 1) if minutes else None


def _minutes(created_at: datetime, contacted_at: datetime) -> float:
    return max(0.0, (contacted_at - created_at).total_seconds() / 60)


def _waiting_for_first_contact() -> Q:
    return Q(first_contacted_at__isnull=True, status=LeadStatus.NEW)
