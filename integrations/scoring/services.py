"""Writes for scoring: store a lead's score without ever overwriting a newer save.

``score_lead`` (pure) lives in ``integrations.scoring.calculator``; it is imported
here too so callers need one module.
"""

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from integrations.scoring.calculator import ScoreResult, score_lead
from integrations.scoring.config import scoring_config
from integrations.scoring.models import ScoreRecord
from integrations.scoring.selectors import leads_needing_rescore
from leads.core import bookkeeping
from leads.core.selectors import with_lead_details
from leads.models import Lead
from leads.webevents.selectors import WebEngagement, web_engagement

__all__ = [
    "ScoreResult",
    "lead_score_refresh",
    "lead_score_save",
    "record_scoring",
    "record_scorings",
    "rescore_leads",
    "rescore_stale_leads",
    "score_lead",
]

logger = logging.getLogger(__name__)


def lead_score_save(*, lead: Lead, version: int, result: ScoreResult, now: datetime | None = None) -> bool:
    """Write ``result`` to the lead if it is still at ``version`` (compare-and-set,
    ``leads.core.bookkeeping.write_rescores``: a moved score is in the history and sent as
    ``lead.scored``). Returns False, writing nothing, when a newer save has moved the lead
    on: that save's own scoring run will write the fresher score. ``Lead.version`` is not bumped.
    """
    with transaction.atomic():
        if not bookkeeping.write_rescores([(lead.pk, version, result.score, list(result.factors))]):
            return False
        record_scoring(lead_pk=lead.pk, version=version, result=result, now=now)
    return True


def record_scoring(*, lead_pk: int, version: int, result: ScoreResult, now: datetime | None = None) -> None:
    """Note when the lead was scored, so ``rescore_stale_leads`` leaves it alone until
    it changes or RESCORE_AFTER_HOURS pass. Call it after writing ``result`` to the
    lead yourself (``lead_score_save`` calls it for you)."""
    ScoreRecord.objects.update_or_create(
        lead_id=lead_pk,
        defaults={
            "scored_at": now or timezone.now(),
            "scored_version": version,
            "fit": result.fit,
            "engagement": result.engagement,
        },
    )


def record_scorings(scorings: list[tuple[int, int, ScoreResult]], now: datetime | None = None) -> None:
    """``record_scoring`` for many ``(lead_pk, version, result)`` at once: one upsert."""
    if not scorings:
        return
    now = now or timezone.now()
    ScoreRecord.objects.bulk_create(
        [
            ScoreRecord(
                lead_id=lead_pk, scored_at=now, scored_version=version, fit=result.fit, engagement=result.engagement
            )
            for lead_pk, version, result in scorings
        ],
        update_conflicts=True,
        unique_fields=["lead"],
        update_fields=["scored_at", "scored_version", "fit", "engagement"],
    )


def lead_score_refresh(*, lead_pk: int, version: int, now: datetime | None = None) -> ScoreResult | None:
    """Score the lead from its stored market analysis and save it, for ``version`` only.

    The pipeline's entry point after the market step. Returns None (and writes
    nothing) when the lead is gone or no longer at ``version``.
    """
    lead = with_lead_details(Lead.objects.filter(pk=lead_pk, version=version)).first()
    if lead is None:
        return None
    result = score_lead(lead, market_analysis=(lead.metadata or {}).get("market_analysis"), now=now)
    return result if lead_score_save(lead=lead, version=version, result=result, now=now) else None


def rescore_stale_leads(now: datetime | None = None) -> int:
    """Rescore up to RESCORE_BATCH_SIZE leads, not archived, whose score is stale
    (engagement decays with time) or that changed since they were scored. Returns
    how many were written.

    Each write is a compare-and-set on the version read, so a lead saved meanwhile
    keeps the score of its own pipeline run.
    """
    now = now or timezone.now()
    batch_size = int(scoring_config()["RESCORE_BATCH_SIZE"])
    leads = list(with_lead_details(leads_needing_rescore(now=now))[:batch_size])
    written = _rescore(leads, now=now)
    logger.info("Rescored %d stale lead(s).", len(written))
    return len(written)


def rescore_leads(lead_pks: list[int], now: datetime | None = None) -> int:
    """Score these leads again at their current version (their website activity moved:
    ``leads.webevents``), from their stored market analysis; returns how many were written."""
    leads = list(with_lead_details(Lead.objects.filter(pk__in=lead_pks, archived_at__isnull=True)))
    return len(_rescore(leads, now=now))


def _rescore(leads: list[Lead], *, now: datetime | None) -> list[int]:
    """Score ``leads`` (their web activity read in one query) and write the scores of the
    leads still at the version read; returns the written leads' pks."""
    now = now or timezone.now()
    web = web_engagement([lead.pk for lead in leads], now=now, days=int(scoring_config()["WEB_ACTIVITY_DAYS"]))
    results = {
        lead.pk: (
            lead,
            score_lead(
                lead,
                market_analysis=(lead.metadata or {}).get("market_analysis"),
                now=now,
                web=web.get(lead.pk, WebEngagement()),
            ),
        )
        for lead in leads
    }
    with transaction.atomic():
        written = bookkeeping.write_rescores(
            (lead.pk, lead.version, result.score, list(result.factors)) for lead, result in results.values()
        )
        record_scorings([(pk, results[pk][0].version, results[pk][1]) for pk in written], now=now)
    return written
