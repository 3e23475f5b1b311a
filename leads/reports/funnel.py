"""Funnel: of the leads that arrived in the range, how many reached each pipeline
stage (at any time: a lead now lost after a showing reached showing), and the
conversion from each stage to the next; by source or agent.

One query: the cohort counted per group, current status and furthest stage, a column
each lead keeps with its moves (``Lead.furthest_stage``, leads.core.bookkeeping), read
with the cohort's own index (``lead_live_stage``) instead of every lead's history."""

from django.db.models import Count

from leads.models import LeadSource, User
from leads.reports.base import Column, Report, percent
from leads.reports.filters import ReportFilters
from leads.reports.pipeline import PIPELINE, rank

BY = {"source": "source", "agent": "assigned_to_id"}


def reached_counts(filters: ReportFilters, *, by: str = "source") -> dict[object, list[int]]:
    """Per group (a source, or an agent's id): the leads whose highest stage is each
    pipeline stage (index = stage): the furthest a move of their status history went,
    or their current status when further; leads only ever lost or nurtured count at
    'new'."""
    column = BY[by]
    rows = filters.cohort().values_list(column, "status", "furthest_stage").annotate(total=Count("*"))
    counts: dict[object, list[int]] = {}
    for group, status, stage, total in rows:
        counts.setdefault(group, [0] * len(PIPELINE))[max(stage, rank(status))] += total
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
