"""Time in stage: for the leads that arrived in the range, the median days a stay in
each stage lasted before the lead moved on (stays still going are left out of the
medians), and the leads stuck: open, and in their current stage for longer than
``stuck_days``, longest first. Three queries (SQLite: the medians in Python).

Both read figures the status-change path keeps (leads.core.bookkeeping): the finished
stays (``StageStay``, one row each, read by the leads' arrival) and each lead's latest
move (``Lead.stage_entered_at``), not the status history."""

from datetime import datetime, timedelta

from django.db.models import Count, F, Window
from django.utils import timezone

from leads.models import Lead, LeadStatus, StageStay
from leads.reports.base import Column, Percentile, Report, is_postgres, percentile
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


def median_days(filters: ReportFilters) -> dict[str, tuple[float | None, int]]:
    """Per stage: (median days of its finished stays, how many stays)."""
    stays = StageStay.objects.filter(lead_created_at__gte=filters.start_at, lead_created_at__lt=filters.end_at)
    if filters.sees_everyone and not (filters.source or filters.lead_type):
        # The cohort is every lead that arrived in the range but the archived ones:
        # leaving those few out costs less than joining every cohort lead.
        archived = Lead.objects.filter(
            created_at__gte=filters.start_at, created_at__lt=filters.end_at, archived_at__isnull=False
        )
        stays = stays.exclude(lead__in=archived.values("pk"))
    else:
        stays = stays.filter(lead__in=filters.cohort().values("pk"))
    stays = stays.order_by()
    if is_postgres():
        medians = {"median": Percentile("days", fraction=0.5), "total": Count("*")}
        if filters.sees_everyone:
            # Every agent's stays: one part per stage, each a range of the
            # stagestay_stage_arrival index (already in order: no sort of every stay by
            # stage first), run side by side.
            parts = [stays.filter(stage=status.value).values_list("stage").annotate(**medians) for status in STAGES]
            rows = parts[0].union(*parts[1:], all=True)
        else:  # one agent's (or a team's) leads: fewer stays, one grouped read
            rows = stays.values_list("stage").annotate(**medians)
        return {stage: (median, total) for stage, median, total in rows}
    by_stage: dict[str, list[float]] = {}
    for stage, days in stays.values_list("stage", "days"):
        by_stage.setdefault(stage, []).append(max(0.0, days))
    return {stage: (percentile(values, 0.5), len(values)) for stage, values in by_stage.items()}


def stuck_leads(filters: ReportFilters, *, now: datetime | None = None, limit: int = STUCK_LIST_SIZE):
    """(the open cohort leads in their stage since before ``stuck_days`` ago, longest
    first, at most ``limit``; how many there are). A lead's stage began with its latest
    move; only leads with a move in the range count (a cohort lead's moves all are)."""
    now = now or timezone.now()
    stuck = filters.cohort().filter(
        status__in=OPEN,
        stage_entered_at__gte=filters.start_at,
        stage_entered_at__lt=now - timedelta(days=filters.stuck_days),
    )
    # The lean rows first (ids, times and how many in all, counted over the whole set
    # before the LIMIT), then the few listed leads with their names.
    first = list(
        stuck.annotate(since=F("stage_entered_at"), total=Window(Count("*")))
        .values_list("pk", "since", "total")
        .order_by("since", "pk")[:limit]
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
