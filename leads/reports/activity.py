"""Interactions per agent and type over a range of time, exact and cheap at any length.

A range is whole days in the viewer's time zone, so its ends fall anywhere in a UTC
day. It is counted in three kinds of pieces: the UTC months wholly inside it from the
month tallies, the UTC days wholly inside it but outside those months from the day
tallies (``ActivityTally``, kept by triggers, migration 0022), and the part-days at
its two ends from the interactions themselves. A year is about 12 months x (agents x
types) tally rows, a few weeks of day rows and at most two days of interactions,
instead of every interaction of the year (~1.4M at a million leads: 227 -> 35 ms,
bench/REPORTS.md).
"""

from datetime import UTC, date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.db.models.functions import TruncDay, TruncMonth

from leads.models import ActivityTally, Interaction

Counts = dict[int, dict[str, int]]
DAY, MONTH = ActivityTally.Span.DAY, ActivityTally.Span.MONTH

# The tallies counted from the interactions on PostgreSQL, as migration 0022 fills them
# (the bench's loader recounts with it: its COPY runs with triggers off).
COUNTED_POSTGRESQL = """
SELECT k.span, k.starts_on, i.created_by_id, i.type, COUNT(*) FROM leads_interaction i
CROSS JOIN LATERAL (VALUES ('day', (i.occurred_at AT TIME ZONE 'UTC')::date),
                           ('month', date_trunc('month', i.occurred_at AT TIME ZONE 'UTC')::date))
    AS k (span, starts_on)
WHERE i.created_by_id IS NOT NULL GROUP BY 1, 2, 3, 4
"""
RECOUNT_POSTGRESQL = "INSERT INTO leads_activitytally (span, starts_on, agent_key, type, n)" + COUNTED_POSTGRESQL


def activity_by_agent_and_type(start_at: datetime, end_at: datetime, types: list[str]) -> Counts:
    """{agent id: {type: interactions of that type they logged in [start_at, end_at)}}:
    the same figures as counting the interactions with an author in the range."""
    first_day = _next_midnight(start_at)
    end_day = _midnight_before(end_at)
    found: Counts = {}
    if first_day >= end_day:  # no whole UTC day inside: count the interactions
        _add(found, _interactions(start_at, end_at, types))
        return found
    first_month = first_day if first_day.day == 1 else _first_of_next_month(first_day)
    end_month = end_day.replace(day=1)
    if first_month < end_month:
        tallied = [(MONTH, first_month, end_month), (DAY, first_day, first_month), (DAY, end_month, end_day)]
    else:
        tallied = [(DAY, first_day, end_day)]
    # One statement, a UNION ALL of plain ranges (each an index-only scan; one OR of
    # them would be a bitmap scan of the table), summed here.
    pieces = [_tallies(span, first, end, types) for span, first, end in tallied if first < end]
    pieces.append(_interactions(start_at, _utc_midnight(first_day), types))
    pieces.append(_interactions(_utc_midnight(end_day), end_at, types))
    _add(found, pieces[0].union(*pieces[1:], all=True))
    return found


def _tallies(span: str, first: date, end: date, types: list[str]):
    # SUM(n): every column read is in the activitytally_span_day index (index-only scan).
    return (
        ActivityTally.objects.filter(span=span, starts_on__gte=first, starts_on__lt=end, type__in=types)
        .values_list("agent_key", "type")
        .annotate(total=Sum("n"))
        .order_by()
    )


def _interactions(start_at: datetime, end_at: datetime, types: list[str]):
    # COUNT(*): every column read is in the interaction_occurred_by index (index-only scan).
    return (
        Interaction.objects.filter(
            occurred_at__gte=start_at, occurred_at__lt=end_at, type__in=types, created_by__isnull=False
        )
        .values_list("created_by", "type")
        .annotate(total=Count("*"))
        .order_by()
    )


def _add(found: Counts, rows) -> None:
    for agent_id, kind, total in rows:
        if total:
            by_type = found.setdefault(agent_id, {})
            by_type[kind] = by_type.get(kind, 0) + total


def _utc_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _next_midnight(moment: datetime) -> date:
    """The first UTC day that starts at or after ``moment``."""
    utc = moment.astimezone(UTC)
    return utc.date() if utc == _utc_midnight(utc.date()) else utc.date() + timedelta(days=1)


def _midnight_before(moment: datetime) -> date:
    """The UTC day that starts at or before ``moment``: days before it end by ``moment``."""
    return moment.astimezone(UTC).date()


def _first_of_next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


Key = tuple[str, date, int, str]  # span, first day, agent id, interaction type


def counted_from_interactions() -> dict[Key, int]:
    """What the tallies should hold, counted from the interactions (non-zero keys)."""
    expected: dict[Key, int] = {}
    authored = Interaction.objects.filter(created_by__isnull=False)
    for span, trunc in ((DAY, TruncDay), (MONTH, TruncMonth)):
        rows = (
            authored.annotate(bucket=trunc("occurred_at", tzinfo=UTC))
            .values_list("bucket", "created_by", "type")
            .annotate(n=Count("id"))
            .order_by()
        )
        for bucket, agent_id, kind, n in rows:
            expected[str(span), bucket.date() if isinstance(bucket, datetime) else bucket, agent_id, kind] = n
    return expected


def differences() -> dict[Key, tuple[int, int]]:
    """Keys where the tallies disagree with the interactions: {key: (tallied, actual)}.
    Empty when they are exact (``manage.py activity_tallies --check``)."""
    actual = counted_from_interactions()
    tallied = {(row.span, row.starts_on, row.agent_key, row.type): row.n for row in ActivityTally.objects.exclude(n=0)}
    return {
        key: (tallied.get(key, 0), actual.get(key, 0))
        for key in set(actual) | set(tallied)
        if tallied.get(key, 0) != actual.get(key, 0)
    }


@transaction.atomic
def rebuild() -> None:
    """Recount from the interactions (after a restore or a TRUNCATE, which the triggers
    do not see). Writers of interactions are held off until it commits."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE leads_interaction IN SHARE MODE")
            cursor.execute("DELETE FROM leads_activitytally")
            cursor.execute(RECOUNT_POSTGRESQL)
        return
    ActivityTally.objects.all().delete()
    ActivityTally.objects.bulk_create(
        ActivityTally(span=span, starts_on=first, agent_key=agent_id, type=kind, n=n)
        for (span, first, agent_id, kind), n in counted_from_interactions().items()
    )
