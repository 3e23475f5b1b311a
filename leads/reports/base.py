"""The shape every report answers in: columns, rows (plain numbers and names), a chart
(labels and datasets) and notes. The pages, the CSV and PDF exports and the API all
render this one object, so they show the same figures."""

import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Aggregate, FloatField

from leads.reports.filters import ReportFilters


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "int"  # int, percent, money, ratio, number, text


@dataclass
class Report:
    name: str
    title: str
    filters: ReportFilters
    columns: list[Column]
    rows: list[dict[str, Any]]
    chart: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def data(self) -> dict[str, Any]:
        """Plain JSON values: decimals as floats rounded to cents."""
        return {
            "report": self.name,
            "title": self.title,
            "filters": self.filters.as_params(),
            "time_zone": self.filters.zone.key,
            "columns": [{"key": column.key, "label": column.label, "kind": column.kind} for column in self.columns],
            "rows": [{key: plain(value) for key, value in row.items()} for row in self.rows],
            "notes": self.notes,
            **{key: plain(value) for key, value in self.extra.items()},
        }


def plain(value: Any) -> Any:
    """``value`` as JSON: decimals as floats (cents), datetimes as ISO 8601 UTC with "Z"."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, Decimal):
        return float(value.quantize(Decimal("0.01")))
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def percent(part: int | float, whole: int | float) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def ratio(part: Decimal | float | None, whole: Decimal | float | None) -> Decimal | None:
    if not whole or part is None:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.01"))


class Percentile(Aggregate):
    """PostgreSQL's exact percentile of an expression (``fraction`` 0.5: the median, as
    ``statistics.median``)."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, *, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


def percentile(values: list[float], fraction: float) -> float | None:
    """The same percentile as PostgreSQL's PERCENTILE_CONT, in Python (SQLite)."""
    if not values:
        return None
    if fraction == 0.5:
        return statistics.median(values)
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def is_postgres() -> bool:
    return connection.vendor == "postgresql"
