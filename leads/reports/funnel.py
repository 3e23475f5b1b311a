"""Funnel: of the leads that arrived in the range, how many reached each pipeline
stage (at any time: a lead now lost after a showing reached showing), and the
conversion from each stage to the next; by source or agent.

One query: the highest stage of each cohort lead's status history and current status,
counted per stage and group."""

from django.db import connection

from leads.models import LeadSource, LeadStatus, User
from leads.reports.base import Column, Report, cohort_sql, history_since, percent
from leads.reports.filters import ReportFilters

PIPELINE = [
    LeadStatus.NEW,
    LeadStatus.CONTACTED,
    LeadStatus.QUALIFIED,
    LeadStatus.SHOWING,
    LeadStatus.OFFER,
    LeadStatus.UNDER_CONTRACT,
    LeadStatus.CLOSED,
]
BY = {"source": "source", "agent": "assigned_to_id"}


def reached_counts(filters: ReportFilters, *, by: str = "source") -> dict[object, list[int]]:
    """Per group (a source, or an agent's id): the leads whose highest stage is each
    pipeline stage (index = stage), from their status history and current status;
    leads only ever lost or nurtured count at 'new'."""
    column = BY[by]
    sql, params = cohort_sql(filters, "id", "status", column)
    rank = " ".join(f"WHEN '{status.value}' THEN {index}" for index, status in enumerate(PIPELINE))
    table = connection.ops.quote_name("leads_statuschange")
    # Only constants and the ORM's own SQL (values as parameters) are interpolated.
    query = (
        f"SELECT reached.grp, reached.status, reached.stage, COUNT(*) FROM ("  # noqa: S608
        f"  SELECT cohort.{column} AS grp, cohort.status AS status,"
        f"    COALESCE(MAX(CASE sc.to_status {rank} ELSE 0 END), 0) AS stage"
        f"  FROM ({sql}) cohort LEFT JOIN {table} sc ON sc.lead_id = cohort.id AND sc.changed_at >= %s"
        f"  GROUP BY cohort.id, cohort.status, cohort.{column}"
        f") reached GROUP BY reached.grp, reached.status, reached.stage"
    )
    current = {status.value: index for index, status in enumerate(PIPELINE)}
    counts: dict[object, list[int]] = {}
    with connection.cursor() as cursor:
        cursor.execute(query, (*params, history_since(filters)))
        for group, status, stage, total in cursor.fetchall():
            counts.setdefault(group, [0] * len(PIPELINE))[max(stage, current.get(status, 0))] += total
    return counts


def cumulative(highest: list[int]) -> list[int]:
    """Leads that reached each stage: those whose highest stage is it or a later one."""
    reached, running = [], 0
    for count in reversed(highest):
        running += count
        reached.append(running)
    return list(reversed(reached))


def funnel_report(filters: ReportFilters, *, by: str = "source") -> Report:
    counts = reached_counts(filters, by=by)
    total_highest = [sum(group[index] for group in counts.values()) for index in range(len(PIPELINE))]
    reached = cumulative(total_highest)
    rows = []
    for index, status in enumerate(PIPELINE):
        previous = reached[index - 1] if index else None
        rows.append(
            {
                "stage": status.label,
                "reached": reached[index],
                "of_cohort": percent(reached[index], reached[0]),
                "from_previous": percent(reached[index], previous) if previous is not None else None,
            }
        )
    names = _group_names(by, list(counts))
    breakdown = []
    for group, highest in sorted(counts.items(), key=lambda item: -sum(item[1])):
        group_reached = cumulative(highest)
        breakdown.append(
            {
                "group": names.get(group, "Unassigned"),
                **{status.value: group_reached[index] for index, status in enumerate(PIPELINE)},
                "close_rate": percent(group_reached[-1], group_reached[0]),
            }
        )
    return Report(
        name="funnel",
        title="Funnel",
        filters=filters,
        columns=[
            Column("stage", "Stage", "text"),
            Column("reached", "Leads that reached it"),
            Column("of_cohort", "% of new leads", "percent"),
            Column("from_previous", "% from the stage before", "percent"),
        ],
        rows=rows,
        chart={"labels": [row["stage"] for row in rows], "datasets": [{"label": "Leads", "data": reached}]},
        notes=["Leads that arrived in the range; a stage counts as reached once the lead's status history shows it."],
        extra={
            "by": by,
            "breakdown_columns": [
                {"key": "group", "label": "Source" if by == "source" else "Agent", "kind": "text"},
                *({"key": status.value, "label": status.label, "kind": "int"} for status in PIPELINE),
                {"key": "close_rate", "label": "% closed", "kind": "percent"},
            ],
            "breakdown": breakdown,
        },
    )


def _group_names(by: str, groups: list) -> dict:
    if by == "source":
        return dict(LeadSource.choices)
    return {user.pk: str(user) for user in User.objects.filter(pk__in=[group for group in groups if group])}
