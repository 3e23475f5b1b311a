"""Writes that record what the after-save work found, without making a new version
of the lead: scores and market analysis, processing state, SLA deadlines and outcomes.

They touch only their own columns, each with a compare-and-set where a newer save
could have moved the lead on, so they never undo a save (``leads.core.writes`` is the path
for everything else). A new score is recorded in the audit history and as a
``lead.scored`` event.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Case, F, Value, When

from leads.audit import history as audit
from leads.events import services as events
from leads.events.models import LeadEventKind
from leads.events.tasks import relay_after_commit
from leads.models import Lead, ProcessingStatus, SlaStatus, StageStay, StatusChange
from leads.reports.pipeline import rank, rank_sql

RESULT_COLUMNS = ["metadata", "score", "score_breakdown", "processing_status", "processing_error", "processed_version"]


@dataclass(frozen=True)
class ProcessingResult:
    """The after-save work's result for one version of a lead."""

    lead_pk: int
    version: int
    metadata: dict
    score: int
    score_breakdown: list


@dataclass(frozen=True)
class ScoreWritten:
    lead_pk: int
    version: int
    previous_score: int | None


def write_processing_results(results: Iterable[ProcessingResult]) -> list[ScoreWritten]:
    """Write each result whose lead is still at its version and not processed yet (the
    leads locked, then one bulk UPDATE); returns those written. A result for a version a
    newer save has replaced is dropped: that save's own work writes a fresher one."""
    results = {result.lead_pk: result for result in results}
    if not results:
        return []
    with transaction.atomic():
        # NO KEY UPDATE: saves inserting rows that point at these leads need not wait.
        current = (
            Lead.objects.select_for_update(no_key=True)
            .filter(pk__in=results)
            .order_by("pk")
            .only("pk", "version", "score", "processed_version", "processing_status")
        )
        written, rows = [], []
        for lead in current:
            result = results[lead.pk]
            if lead.version != result.version or is_processed(lead, result.version):
                continue
            written.append(ScoreWritten(lead.pk, result.version, lead.score))
            lead.metadata, lead.score, lead.score_breakdown = result.metadata, result.score, result.score_breakdown
            lead.processing_status, lead.processing_error = ProcessingStatus.DONE, ""
            lead.processed_version = result.version
            rows.append(lead)
        Lead.objects.bulk_update(rows, RESULT_COLUMNS)
        _record_scores([(item, results[item.lead_pk].score) for item in written], always_event=True)
    return written


def is_processed(lead: Lead, version: int) -> bool:
    """Whether the after-save work is done for ``version`` (or a later one)."""
    return lead.processed_version >= version and lead.processing_status == ProcessingStatus.DONE


def mark_processing_failed(failed: Iterable[tuple[int, int]], reason: str) -> None:
    """Show on each lead ``(lead_pk, version)`` still at that version that its work failed, and why."""
    for lead_pk, version in failed:
        Lead.objects.filter(pk=lead_pk, version=version).update(
            processing_status=ProcessingStatus.FAILED, processing_error=reason
        )


def write_rescores(scores: Iterable[tuple[int, int, int, list]]) -> list[int]:
    """A periodic rescoring's ``(lead_pk, version, score, breakdown)``: written where the
    lead is still at that version; returns the leads written. A moved score is recorded
    (audit entry, ``lead.scored``); an unchanged one only refreshes its breakdown."""
    scores = list(scores)
    if not scores:
        return []
    with transaction.atomic():
        previous = dict(Lead.objects.filter(pk__in=[row[0] for row in scores]).values_list("pk", "score"))
        written, moved = [], []
        for lead_pk, version, score, breakdown in scores:
            if Lead.objects.filter(pk=lead_pk, version=version).update(score=score, score_breakdown=breakdown):
                written.append(lead_pk)
                if previous.get(lead_pk) != score:
                    moved.append((ScoreWritten(lead_pk, version, previous.get(lead_pk)), score))
        _record_scores(moved, always_event=False)
    return written


def _record_scores(written: list[tuple[ScoreWritten, int]], *, always_event: bool) -> None:
    """The audit entries of the moved scores and the ``lead.scored`` events: a query each."""
    audit.record_scores((item.lead_pk, item.previous_score, score) for item, score in written)
    new_events = [
        events.NewEvent(
            item.lead_pk, item.version, LeadEventKind.SCORED, {"score": score, "previous_score": item.previous_score}
        )
        for item, score in written
        if always_event or item.previous_score != score
    ]
    relay_after_commit(events.record(new_events, actor=None, channel=audit.TASK.channel), may_join=True)


# --- speed to lead -----------------------------------------------------------------


def set_sla_due(due: dict[int, datetime]) -> None:
    """Give each lead ``{lead_pk: due_at}`` its first-contact deadline, where it has none."""
    if due:
        Lead.objects.filter(pk__in=due, sla_due_at__isnull=True).update(
            sla_due_at=Case(*(When(pk=pk, then=Value(due_at)) for pk, due_at in due.items()))
        )


def settle_sla(lead: Lead) -> None:
    """A contacted lead's pending SLA becomes met or breached (by its first contact)."""
    if lead.first_contacted_at is None or lead.sla_due_at is None or lead.sla_status != SlaStatus.PENDING:
        return
    outcome = SlaStatus.MET if lead.first_contacted_at <= lead.sla_due_at else SlaStatus.BREACHED
    Lead.objects.filter(pk=lead.pk, sla_status=SlaStatus.PENDING).update(sla_status=outcome)
    lead.sla_status = outcome


def settle_due_slas(now: datetime) -> tuple[int, int]:
    """Settle every pending SLA of a live lead: contacted leads become met or breached,
    uncontacted ones past due breached. Returns (met, breached)."""
    pending = Lead.objects.filter(sla_status=SlaStatus.PENDING, sla_due_at__isnull=False, archived_at__isnull=True)
    met = pending.filter(first_contacted_at__lte=F("sla_due_at")).update(sla_status=SlaStatus.MET)
    breached = pending.filter(first_contacted_at__gt=F("sla_due_at")).update(sla_status=SlaStatus.BREACHED)
    breached += pending.filter(first_contacted_at__isnull=True, sla_due_at__lt=now).update(
        sla_status=SlaStatus.BREACHED
    )
    return met, breached


# --- history ----------------------------------------------------------------------


def set_arrival_time(lead: Lead, arrived_at: datetime) -> None:
    """Date a lead that arrived before it was entered (demo data, migrated history):
    its ``created_at`` and its first status change."""
    Lead.objects.filter(pk=lead.pk).update(created_at=arrived_at)
    StatusChange.objects.filter(lead=lead, from_status="").update(changed_at=arrived_at)
    lead.created_at = arrived_at
    recount_stage_figures([lead])


# --- stage figures (the funnel's furthest stage, time in stage) -----------------------


RECOUNT_CHUNK = 5000


def record_move(lead: Lead, change: StatusChange) -> None:
    """Keep the lead's stage figures with a move just recorded (``change``, from the
    lead's current status): the stay it ends and, in memory for the write's save, the
    furthest stage and when the latest move happened. A move dated before the latest
    one is recounted from the history instead. Called by ``LeadWrite.change_status``."""
    entered = lead.stage_entered_at
    if entered is not None and change.changed_at < entered:
        recount_stage_figures([lead])
        return
    if entered is not None:
        days = (change.changed_at - entered).total_seconds() / 86400
        StageStay.objects.create(lead=lead, lead_created_at=lead.created_at, stage=lead.status, days=days)
    lead.stage_entered_at = change.changed_at
    lead.furthest_stage = max(lead.furthest_stage, rank(change.to_status))


def recount_stage_figures(leads: Sequence[Lead | int] | None = None, *, using=None) -> None:
    """Recompute the stage figures from the status history, set-based: each lead's
    furthest stage and latest move, and its finished stays (``StageStay``). For the
    given leads (instances get the new values in memory too), or every lead (None: the
    migration that fills them). For writers that rewrite history: merges and their
    undo, dated demo and imported history."""
    conn = using or connection
    ids = None if leads is None else [lead if isinstance(lead, int) else lead.pk for lead in leads]
    if ids is not None and len(ids) > RECOUNT_CHUNK:  # within the databases' parameter limits
        for first in range(0, len(ids), RECOUNT_CHUNK):
            recount_stage_figures(leads[first : first + RECOUNT_CHUNK], using=using)
        return
    if ids is not None and not ids:
        return
    marks = "" if ids is None else ", ".join(["%s"] * len(ids))
    only = (lambda column: "") if ids is None else (lambda column: f" WHERE {column} IN ({marks})")
    params = [] if ids is None else list(ids)
    following = "LEAD(sc.changed_at) OVER (PARTITION BY sc.lead_id ORDER BY sc.changed_at, sc.id)"
    if conn.vendor == "postgresql":
        days = "EXTRACT(EPOCH FROM (s.next_at - s.changed_at)) / 86400.0"
    else:
        days = "julianday(s.next_at) - julianday(s.changed_at)"
    # Only constants are interpolated; the ids are parameters.
    statements = [
        f"DELETE FROM leads_stagestay{only('lead_id')}",  # noqa: S608
        "INSERT INTO leads_stagestay (lead_id, lead_created_at, stage, days) "  # noqa: S608
        f"SELECT s.lead_id, l.created_at, s.to_status, {days} FROM ("
        f"  SELECT sc.lead_id, sc.to_status, sc.changed_at, {following} AS next_at"
        f"  FROM leads_statuschange sc{only('sc.lead_id')}"
        ") s JOIN leads_lead l ON l.id = s.lead_id WHERE s.next_at IS NOT NULL",
    ]
    if ids is not None:
        statements.append(f"UPDATE leads_lead SET furthest_stage = 0, stage_entered_at = NULL{only('id')}")  # noqa: S608
    statements.append(
        "UPDATE leads_lead SET furthest_stage = moves.stage, stage_entered_at = moves.latest FROM ("  # noqa: S608
        f"  SELECT sc.lead_id, MAX({rank_sql('sc.to_status')}) AS stage, MAX(sc.changed_at) AS latest"
        f"  FROM leads_statuschange sc{only('sc.lead_id')} GROUP BY sc.lead_id"
        ") moves WHERE leads_lead.id = moves.lead_id"
    )
    with conn.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement, params if "%s" in statement else None)
    instances = [lead for lead in leads or () if isinstance(lead, Lead)]
    if instances:
        figures = Lead.objects.filter(pk__in=[lead.pk for lead in instances]).values_list(
            "pk", "furthest_stage", "stage_entered_at"
        )
        found = {pk: (stage, entered) for pk, stage, entered in figures}
        for lead in instances:
            lead.furthest_stage, lead.stage_entered_at = found.get(lead.pk, (0, None))
