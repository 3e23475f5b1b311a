"""Exact lead counts that cost the same at ten thousand leads and at a million.

``leads_lead`` triggers (migration 0006) append a row to ``LeadCount`` for every
change in the number of live leads per (agent, status, lead type). A list whose
filters are only status, lead type and agent is counted by summing those rows;
any other filter (search, dates, score...) falls back to COUNT(*) on the lead table.

Hand-written because no library keeps exact, filtered counts: PostgreSQL's COUNT(*)
of visible leads took 180-310 ms at a million leads (an index-only scan still visits
every row), and a manager's total from these counters takes well under 1 ms
(bench/RESULTS.md).
"""

from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Sum

from leads.accounts import permissions
from leads.core.validation import clean_text
from leads.models import Lead, LeadCount, User

# The LeadFilter parameters the counters can answer ("ordering" changes no count).
COUNTED_FILTERS = frozenset({"status", "lead_type", "assigned_to", "ordering"})

UNASSIGNED_KEY = 0
TEAM_KEY = -1  # every live lead is counted twice: under its agent and under the team

# The live leads per counter key, as the triggers count them: per agent, and for the team.
_LIVE_LEADS_PER_KEY = """
SELECT COALESCE(assigned_to_id, 0), status, lead_type, COUNT(*) FROM leads_lead
WHERE archived_at IS NULL GROUP BY 1, 2, 3
UNION ALL
SELECT -1, status, lead_type, COUNT(*) FROM leads_lead WHERE archived_at IS NULL GROUP BY 2, 3
"""
# The counters recounted from scratch (also run by the bench's loader, whose COPY runs
# with triggers off).
RECOUNT = "INSERT INTO leads_leadcount (assigned_to_key, status, lead_type, n)" + _LIVE_LEADS_PER_KEY


def counted_total(actor: User, cleaned_filters: dict[str, Any]) -> int | None:
    """The number of visible leads matching the filters, from the counters; None when
    a filter in use is one the counters do not know (the caller counts the rows)."""
    in_use = {name for name, value in cleaned_filters.items() if value not in (None, "", [], ())}
    if not in_use <= COUNTED_FILTERS or actor is None or not actor.is_active:
        return None
    key = viewer_key(actor)
    if key is None:
        return None
    if cleaned_filters.get("assigned_to"):
        asked = _assignee_key(actor, cleaned_filters["assigned_to"])
        if asked is None:
            return None
        if not permissions.can_view_all_leads(actor) and asked != actor.pk:
            return 0  # an agent sees only their own leads
        key = asked
    rows = LeadCount.objects.filter(assigned_to_key=key)
    if cleaned_filters.get("status"):
        rows = rows.filter(status__in=cleaned_filters["status"])
    if cleaned_filters.get("lead_type"):
        rows = rows.filter(lead_type__in=cleaned_filters["lead_type"])
    return rows.aggregate(total=Sum("n"))["total"] or 0


def live_leads_by_agent(agent_ids: list[int], *, status: str) -> dict[int, int]:
    """How many live leads with ``status`` each of the agents holds (agents with none are
    left out), from the counters: a few rows per agent however many leads they hold."""
    if not agent_ids:
        return {}
    rows = (
        LeadCount.objects.filter(assigned_to_key__in=agent_ids, status=status)
        .values_list("assigned_to_key")
        .annotate(total=Sum("n"))
    )
    return {agent_id: total for agent_id, total in rows if total}


def viewer_key(user: User) -> int | None:
    """The counter key of everything ``user`` may see: every lead's rows for those who
    see all, their own for agents (``selectors.visible_leads``); None for a manager of
    one team among several (the counters are not kept per team: their lists count rows)."""
    if permissions.can_view_all_leads(user):
        return TEAM_KEY
    if permissions.can_view_team_leads(user):
        return None
    return user.pk


def by_status(user: User) -> dict[str, int]:
    """The user's visible live leads per status (statuses with none left out). One query."""
    if user is None or not user.is_active:
        return {}
    key = viewer_key(user)
    if key is None:
        leads = Lead.objects.filter(archived_at__isnull=True).filter(permissions.visible_lead_filter(user))
        rows = leads.order_by().values_list("status").annotate(total=Count("pk"))
        return {status: total for status, total in rows if total}
    rows = LeadCount.objects.filter(assigned_to_key=key).order_by().values_list("status")
    return {status: total for status, total in rows.annotate(total=Sum("n")) if total}


def _assignee_key(actor: User, value: str) -> int | None:
    """LeadFilter.filter_assigned_to's value as a counter key; None for a username
    (resolving it would cost a query of its own)."""
    value = clean_text(value)
    if value in {"none", "unassigned"}:
        return UNASSIGNED_KEY
    if value == "me":
        return actor.pk
    if value.isascii() and value.isdigit() and 0 < int(value) < 2**63:
        return int(value)
    return None


@transaction.atomic
def compact(now: datetime | None = None) -> int:
    """Fold the counter rows into one row per key; returns how many rows were removed.
    ``now`` is unused: the periodic runner passes it to every job.

    The DELETE ... RETURNING hands back exactly the rows it removed, and their sums are
    written back in the same transaction, so a change committed meanwhile by another
    transaction is either among the returned rows or left in place: never lost nor
    counted twice. Run every minute by the periodic jobs.
    """
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM leads_leadcount RETURNING assigned_to_key, status, lead_type, n")
        removed = cursor.fetchall()
    totals: dict[tuple[int, str, str], int] = {}
    for agent_key, status, lead_type, n in removed:
        totals[agent_key, status, lead_type] = totals.get((agent_key, status, lead_type), 0) + n
    folded = [
        LeadCount(assigned_to_key=agent_key, status=status, lead_type=lead_type, n=n)
        for (agent_key, status, lead_type), n in sorted(totals.items())
        if n
    ]
    LeadCount.objects.bulk_create(folded)
    return len(removed) - len(folded)


def differences() -> dict[tuple[int, str, str], tuple[int, int]]:
    """Keys where the counters disagree with the lead table: {key: (counted, actual)}.
    Empty when the counters are exact (``manage.py lead_counts --check``)."""
    with connection.cursor() as cursor:
        cursor.execute(_LIVE_LEADS_PER_KEY)
        actual = {(agent_key, status, lead_type): n for agent_key, status, lead_type, n in cursor.fetchall()}
    counted: dict[tuple[int, str, str], int] = {}
    for row in LeadCount.objects.values("assigned_to_key", "status", "lead_type").annotate(total=Sum("n")):
        counted[row["assigned_to_key"], row["status"], row["lead_type"]] = row["total"]
    keys = set(actual) | set(counted)
    return {key: (counted.get(key, 0), actual.get(key, 0)) for key in keys if counted.get(key, 0) != actual.get(key, 0)}


@transaction.atomic
def rebuild() -> None:
    """Recount from the lead table (after a restore from backup or a TRUNCATE, which
    the triggers do not see). Writers to leads are held off until it commits."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE leads_lead IN SHARE MODE")
    LeadCount.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute(RECOUNT)
