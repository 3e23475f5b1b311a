"""Source ROI: per source, the leads that arrived in the range, how many were
contacted, the deals closed in the range (on leads from that source, whenever they
arrived) and their commission (the team's split), against the spend recorded for
the months the range touches. Three queries.

Spend is recorded per team, source and month: each month counts in proportion to the
days of it the range covers (a week of a 30-day month: 7/30 of its spend), for
managers (agents see no spend); the agent and lead-type filters do not split it."""

import calendar
from datetime import date
from decimal import Decimal

from django.db.models import Count, Q, Sum

from leads.accounts import permissions
from leads.deals.models import Deal, DealStage, SourceSpend
from leads.models import LeadSource
from leads.reports.base import Column, Report, percent, ratio
from leads.reports.filters import ReportFilters


def closed_deals(filters: ReportFilters):
    """The closed deals of the range on the leads of the filters' scope."""
    deals = Deal.objects.filter(stage=DealStage.CLOSED, closed_on__gte=filters.start, closed_on__lte=filters.end)
    return deals.filter(filters.related_leads()).order_by()


def spend_by_source(filters: ReportFilters) -> dict[str, Decimal] | None:
    """Spend per source over the range, each month prorated by the days of it the range
    covers; None for agents."""
    if not filters.is_manager:
        return None
    rows = SourceSpend.objects.filter(month__gte=filters.start.replace(day=1), month__lte=filters.end)
    if not permissions.can_view_all_leads(filters.user):
        rows = rows.filter(team_id=filters.user.team_id)
    if filters.source:
        rows = rows.filter(source=filters.source)
    totals: dict[str, Decimal] = {}
    for source, month, amount in rows.values_list("source", "month", "amount").order_by():
        totals[source] = totals.get(source, Decimal("0")) + amount * month_share(month, filters.start, filters.end)
    return {source: total.quantize(Decimal("0.01")) for source, total in totals.items()}


def month_share(month: date, start: date, end: date) -> Decimal:
    """The part of ``month`` (its first day) that the days ``start``..``end`` cover."""
    days = calendar.monthrange(month.year, month.month)[1]
    last = month.replace(day=days)
    covered = (min(last, end) - max(month, start)).days + 1
    return Decimal(max(covered, 0)) / Decimal(days)


def roi_report(filters: ReportFilters) -> Report:
    arrivals = {
        source: (leads, contacted)
        for source, leads, contacted in filters.cohort()
        .values_list("source")
        .annotate(leads=Count("id"), contacted=Count("id", filter=Q(first_contacted_at__isnull=False)))
    }
    deals = {
        source: (closed, commission)
        for source, closed, commission in closed_deals(filters)
        .values_list("lead__source")
        .annotate(closed=Count("id"), commission=Sum("team_commission"))
    }
    spend = spend_by_source(filters)
    sources = set(arrivals) | set(deals) | set(spend or {})
    labels = dict(LeadSource.choices)
    rows = []
    for source in sources:
        leads, contacted = arrivals.get(source, (0, 0))
        closed, commission = deals.get(source, (0, Decimal("0")))
        spent = None if spend is None else spend.get(source, Decimal("0"))
        rows.append(
            {
                "source": labels.get(source, source),
                "leads": leads,
                "contacted": contacted,
                "contacted_rate": percent(contacted, leads),
                "closed": closed,
                "commission": commission or Decimal("0"),
                "spend": spent,
                "cost_per_lead": ratio(spent, leads),
                "cost_per_close": ratio(spent, closed),
                "roi": ratio(commission, spent),
            }
        )
    rows.sort(key=lambda row: (-(row["commission"] or 0), -row["leads"], row["source"]))
    return Report(
        name="sources",
        title="Source ROI",
        filters=filters,
        columns=[
            Column("source", "Source", "text"),
            Column("leads", "Leads"),
            Column("contacted_rate", "Contacted", "percent"),
            Column("closed", "Closed"),
            Column("commission", "Commission", "money"),
            Column("spend", "Spend", "money"),
            Column("cost_per_lead", "Per lead", "money"),
            Column("cost_per_close", "Per close", "money"),
            Column("roi", "ROI", "ratio"),
        ],
        rows=rows,
        chart={
            "labels": [row["source"] for row in rows],
            "datasets": [
                {"label": "Commission", "data": [float(row["commission"] or 0) for row in rows]},
                *(
                    [{"label": "Spend", "data": [float(row["spend"] or 0) for row in rows]}]
                    if spend is not None
                    else []
                ),
            ],
            "money": True,
        },
        notes=[
            "Leads: arrived in the range. Closed deals and commission (the team's split): deals closed in the range. "
            "Per lead and per close: spend divided by them. ROI: commission divided by spend.",
            "Spend: each month's share of the days in the range; not split by agent or lead type."
            if spend is not None
            else "Spend is recorded per team: managers see it.",
        ],
    )
