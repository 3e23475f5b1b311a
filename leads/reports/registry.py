"""The reports by name (the URL segment of the pages, the exports and the API)."""

from collections.abc import Callable

from django.db import connection, transaction

from leads.reports.base import Report
from leads.reports.filters import ReportFilters
from leads.reports.funnel import funnel_report
from leads.reports.leaderboard import leaderboard_report
from leads.reports.roi import roi_report
from leads.reports.stages import stages_report

REPORTS: dict[str, tuple[str, Callable[[ReportFilters], Report]]] = {
    "funnel": ("Funnel", funnel_report),
    "sources": ("Source ROI", roi_report),
    "agents": ("Agent leaderboard", leaderboard_report),
    "stages": ("Time in stage", stages_report),
}


def build(name: str, filters: ReportFilters, **options) -> Report:
    """The report ``name`` (a key of REPORTS) for ``filters``, in one read-only
    transaction. On PostgreSQL without JIT compilation: these aggregates cost more
    than ``jit_above_cost`` at 1M leads, and compiling them took longer (1.3 s) than
    running them (bench/REPORTS.md)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        return REPORTS[name][1](filters, **options)
