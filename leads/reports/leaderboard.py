"""Agent leaderboard: per agent, the leads that arrived in the range and were given
to them, speed to first contact (median and 90th percentile, minutes), first contact
within the SLA, the calls, texts, emails and showings they logged in the range, and
the deals credited to them that closed in the range with their commission.
Three queries."""

from decimal import Decimal

from django.db.models import Count, F, FloatField, Func, Q, Sum, Value
from django.db.models.functions import Greatest

from leads.accounts import permissions
from leads.models import Interaction, InteractionType, SlaStatus
from leads.reports.activity import activity_by_agent_and_type
from leads.reports.base import Column, Percentile, Report, is_postgres, percent, percentile
from leads.reports.filters import ReportFilters
from leads.reports.roi import closed_deals

ACTIVITY = [InteractionType.CALL, InteractionType.TEXT, InteractionType.EMAIL, InteractionType.SHOWING]


def _minutes_to_first_contact():
    elapsed = Func(
        F("first_contacted_at"),
        F("created_at"),
        arg_joiner=" - ",
        template="EXTRACT(EPOCH FROM (%(expressions)s))::float8 / 60",
        output_field=FloatField(),
    )
    return Greatest(elapsed, Value(0.0))


def arrivals_by_agent(filters: ReportFilters) -> dict[int, dict]:
    """Per agent id: new leads, SLA met/decided, median and p90 minutes to first contact."""
    leads = filters.cohort().filter(assigned_to__isnull=False)
    aggregates = {
        "new": Count("id"),
        "met": Count("id", filter=Q(sla_status=SlaStatus.MET)),
        "decided": Count("id", filter=Q(sla_status__in=[SlaStatus.MET, SlaStatus.BREACHED])),
    }
    if is_postgres():
        contacted = Q(first_contacted_at__isnull=False)
        aggregates["median"] = Percentile(_minutes_to_first_contact(), fraction=0.5, filter=contacted)
        aggregates["p90"] = Percentile(_minutes_to_first_contact(), fraction=0.9, filter=contacted)
    rows = {row.pop("assigned_to"): row for row in leads.values("assigned_to").annotate(**aggregates)}
    if not is_postgres():
        minutes: dict[int, list[float]] = {}
        for agent_id, created_at, contacted_at in leads.filter(first_contacted_at__isnull=False).values_list(
            "assigned_to", "created_at", "first_contacted_at"
        ):
            minutes.setdefault(agent_id, []).append(max(0.0, (contacted_at - created_at).total_seconds() / 60))
        for agent_id, row in rows.items():
            row["median"] = percentile(minutes.get(agent_id, []), 0.5)
            row["p90"] = percentile(minutes.get(agent_id, []), 0.9)
    return rows


def activity_by_agent(filters: ReportFilters, agent_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per agent id: interactions of each ACTIVITY type they logged in the range."""
    if filters.sees_everyone and not filters.source and not filters.lead_type:
        return activity_by_agent_and_type(filters.start_at, filters.end_at, ACTIVITY)
    interactions = Interaction.objects.filter(occurred_at__gte=filters.start_at, occurred_at__lt=filters.end_at)
    if not filters.sees_everyone:
        # (for everyone, a list of every agent would only keep the planner off the index)
        interactions = interactions.filter(created_by__in=agent_ids)
    if filters.agent or not permissions.can_view_all_leads(filters.user):
        interactions = interactions.filter(filters.related_leads())
    else:
        # The lead's source and type as each interaction carries them (kept by triggers,
        # migration 0021): read from the interaction_occurred_by index, no join.
        if filters.source:
            interactions = interactions.filter(lead_source=filters.source)
        if filters.lead_type:
            interactions = interactions.filter(lead_type=filters.lead_type)
    found: dict[int, dict[str, int]] = {}
    # COUNT(*): every column read is in the interaction_occurred_by index (index-only scan).
    rows = interactions.filter(type__in=ACTIVITY).values_list("created_by", "type").annotate(n=Count("*")).order_by()
    for agent_id, kind, total in rows:
        found.setdefault(agent_id, {})[kind] = total
    return found


def leaderboard_report(filters: ReportFilters) -> Report:
    agents = filters.agents()
    agent_ids = [agent.pk for agent in agents]
    arrivals = arrivals_by_agent(filters)
    activity = activity_by_agent(filters, agent_ids)
    credited = closed_deals(filters) if filters.sees_everyone else closed_deals(filters).filter(agent__in=agent_ids)
    deals = {
        agent_id: (closed, commission)
        for agent_id, closed, commission in credited.values_list("agent").annotate(
            closed=Count("id"), commission=Sum("team_commission")
        )
    }
    rows = []
    for agent in agents:
        arrived = arrivals.get(agent.pk, {})
        done = activity.get(agent.pk, {})
        closed, commission = deals.get(agent.pk, (0, Decimal("0")))
        row = {
            "agent": str(agent),
            "username": agent.username,
            "new_leads": arrived.get("new", 0),
            "median_minutes": _round(arrived.get("median")),
            "p90_minutes": _round(arrived.get("p90")),
            "sla_rate": percent(arrived.get("met", 0), arrived.get("decided", 0)),
            **{kind.value + "s": done.get(kind.value, 0) for kind in ACTIVITY},
            "conversions": closed,
            "commission": commission or Decimal("0"),
        }
        rows.append(row)
    rows.sort(key=lambda row: (-row["commission"], -row["conversions"], -row["new_leads"], row["agent"]))
    return Report(
        name="agents",
        title="Agent leaderboard",
        filters=filters,
        columns=[
            Column("agent", "Agent", "text"),
            Column("new_leads", "New leads"),
            Column("median_minutes", "Median min", "number"),
            Column("p90_minutes", "p90 min", "number"),
            Column("sla_rate", "Within SLA", "percent"),
            Column("calls", "Calls"),
            Column("texts", "Texts"),
            Column("emails", "Emails"),
            Column("showings", "Showings"),
            Column("conversions", "Closed"),
            Column("commission", "Commission", "money"),
        ],
        rows=rows,
        chart={
            "labels": [row["agent"] for row in rows],
            "datasets": [{"label": "Commission", "data": [float(row["commission"]) for row in rows]}],
            "money": True,
        },
        notes=[
            "New leads, speed to lead (median and p90 minutes from arrival to first contact) and first contact "
            "within the SLA: leads that arrived in the range, by their agent. "
            "Activity: logged in the range. Closed deals and commission: credited to the agent, closed in the range."
        ],
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
