"""Time in stage: for the leads that arrived in the range, the median days a stay in
each stage lasted before the lead moved on (stays still going are left out of the
medians), and the leads stuck: open, and in their current stage for longer than
``stuck_days``, longest first. Three queries (SQLite: the medians in Python)."""

from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Count, Max, Window
from django.utils import timezone

from leads.models import Lead, LeadStatus
from leads.reports.base import Column, Report, cohort_sql, history_since, is_postgres, percentile
from leads.reports.filters import ReportFilters

STAGES = [
    LeadStatus.NEW,
    LeadStatus.CONTACTED,
    LeadStatus.QUALIFIED,
    LeadStatus.SHOWING,
    LeadStatus.OFFER,
    LeadStatus.UNDER_CONTRACT,
    LeadStatus.NURTURE,
]
OPEN = list(STAGES)  # every stage but closed and lost
STUCK_LIST_SIZE = 50


def _stays_sql(filters: ReportFilters) -> tuple[str, tuple]:
    """Each finished stay of a cohort lead: (stage, days)."""
    sql, params = cohort_sql(filters, "id")
    table = connection.ops.quote_name("leads_statuschange")
    following = "LEAD(sc.changed_at) OVER (PARTITION BY sc.lead_id ORDER BY sc.changed_at, sc.id)"
    if is_postgres():
        days = f"EXTRACT(EPOCH FROM ({following} - sc.changed_at)) / 86400.0"
    else:
        days = f"julianday({following}) - julianday(sc.changed_at)"
    # Only constants and the ORM's own SQL (values as parameters) are interpolated.
    return (
        f"SELECT sc.to_status AS stage, {days} AS days FROM ({sql}) cohort "  # noqa: S608
        f"JOIN {table} sc ON sc.lead_id = cohort.id AND sc.changed_at >= %s",
        (*params, history_since(filters)),
    )


def median_days(filters: ReportFilters) -> dict[str, tuple[float | None, int]]:
    """Per stage: (median days of its finished stays, how many stays)."""
    stays, params = _stays_sql(filters)
    with connection.cursor() as cursor:
        if is_postgres():
            cursor.execute(
                f"SELECT stage, PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY days), COUNT(*) FROM ({stays}) stays "  # noqa: S608
                f"WHERE days IS NOT NULL GROUP BY stage",
                params,
            )
            return {stage: (median, count) for stage, median, count in cursor.fetchall()}
        cursor.execute(f"SELECT stage, days FROM ({stays}) stays WHERE days IS NOT NULL", params)  # noqa: S608
        by_stage: dict[str, list[float]] = {}
        for stage, days in cursor.fetchall():
            by_stage.setdefault(stage, []).append(max(0.0, days))
    return {stage: (percentile(values, 0.5), len(values)) for stage, values in by_stage.items()}


def stuck_leads(filters: ReportFilters, *, now: datetime | None = None, limit: int = STUCK_LIST_SIZE):
    """(the open cohort leads in their stage since before ``stuck_days`` ago, longest
    first, at most ``limit``; how many there are)."""
    now = now or timezone.now()
    stuck = (
        filters.cohort()
        .filter(status__in=OPEN, status_changes__changed_at__gte=filters.start_at)  # see base.history_since
        .annotate(since=Max("status_changes__changed_at"))
        .filter(since__lt=now - timedelta(days=filters.stuck_days))
    )
    # The lean rows first (ids, times and how many in all, counted over the whole set
    # before the LIMIT), then the few listed leads with their names.
    first = list(
        stuck.annotate(total=Window(Count("*"))).values_list("pk", "since", "total").order_by("since", "pk")[:limit]
    )
    total = first[0][2] if first else 0
    details = Lead.objects.select_related("contact", "assigned_to").in_bulk([pk for pk, _, _ in first])
    listed = []
    for pk, since, _ in first:
        lead = details[pk]
        lead.since = since
        listed.append(lead)
    return listed, total


def stages_report(filters: ReportFilters, *, now: datetime | None = None) -> Report:
    now = now or timezone.now()
    medians = median_days(filters)
    rows = [
        {
            "stage": status.label,
            "median_days": None
            if medians.get(status.value, (None, 0))[0] is None
            else round(medians[status.value][0], 1),
            "stays": medians.get(status.value, (None, 0))[1],
        }
        for status in STAGES
    ]
    stuck, stuck_total = stuck_leads(filters, now=now)
    return Report(
        name="stages",
        title="Time in stage",
        filters=filters,
        columns=[
            Column("stage", "Stage", "text"),
            Column("median_days", "Median days in stage", "number"),
            Column("stays", "Finished stays"),
        ],
        rows=rows,
        chart={
            "labels": [row["stage"] for row in rows],
            "datasets": [{"label": "Median days", "data": [row["median_days"] for row in rows]}],
        },
        notes=[
            "Leads that arrived in the range; a stay counts once the lead moved on from the stage.",
            f"Stuck: open leads in their current stage for more than {filters.stuck_days} days.",
        ],
        extra={
            "stuck_total": stuck_total,
            "stuck": [_stuck_row(lead, now) for lead in stuck],
        },
    )


def _stuck_row(lead: Lead, now: datetime) -> dict:
    contact = getattr(lead, "contact", None)
    return {
        "lead_id": lead.public_id,
        "name": contact.full_name if contact else lead.public_id,
        "status": lead.get_status_display(),
        "agent": str(lead.assigned_to) if lead.assigned_to_id else "Unassigned",
        "since": lead.since,
        "days": (now - lead.since).days,
    }
