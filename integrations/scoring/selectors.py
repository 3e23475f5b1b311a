"""Reads for scoring: the team's conversion history by lead source, and the leads
whose score has gone stale."""

import logging
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone
from redis.exceptions import RedisError

from integrations.scoring.config import scoring_config
from leads.models import Lead, LeadStatus

# A lead "converted" once it reached qualified or any later stage, even if it was
# lost afterwards: the source delivered a real prospect.
CONVERTED_STATUSES = (
    LeadStatus.QUALIFIED,
    LeadStatus.SHOWING,
    LeadStatus.OFFER,
    LeadStatus.UNDER_CONTRACT,
    LeadStatus.CLOSED,
)


logger = logging.getLogger(__name__)
_held: ContextVar[dict | None] = ContextVar("source_conversion_stats_held", default=None)


@dataclass(frozen=True)
class SourceConversion:
    """One source's history: leads received, leads that converted."""

    total: int
    converted: int


def _cache_key() -> str:
    # The database name keeps apart databases (test runs, tenants) sharing one Redis.
    return f"scoring:source-conversion:v1:{connection.settings_dict.get('NAME')}"


def source_conversion_stats() -> dict[str, SourceConversion]:
    """Leads and conversions per source, from ONE aggregate query, cached briefly.

    A lead counts as converted when its status is qualified or later now, or its
    status history shows it got there. Leads younger than SOURCE_MATURITY_DAYS
    count only once converted, so a burst of new leads does not look like failure.
    """
    key = _cache_key()
    held = _held.get()
    if held is not None and key in held:
        return held[key]
    config = scoring_config()
    cached = _cache_call(cache.get, key)
    if cached is not None:
        if held is not None:
            held[key] = cached
        return cached
    matured = Q(created_at__lt=timezone.now() - timedelta(days=config["SOURCE_MATURITY_DAYS"]))
    converted = Q(status__in=CONVERTED_STATUSES) | Q(status_changes__to_status__in=CONVERTED_STATUSES)
    rows = (
        Lead.objects.order_by()
        .values("source")
        .annotate(
            total=Count("id", distinct=True, filter=matured | converted),
            converted=Count("id", distinct=True, filter=converted),
        )
    )
    stats = {row["source"]: SourceConversion(total=row["total"], converted=row["converted"]) for row in rows}
    _cache_call(cache.set, key, stats, timeout=config["SOURCE_STATS_CACHE_SECONDS"])
    if held is not None:
        held[key] = stats
    return stats


def _cache_call(method, *args, **kwargs):
    """The cache only saves work: when it (Redis) is unreachable the stats are
    computed from the database, so scoring goes on."""
    try:
        return method(*args, **kwargs)
    except (RedisError, OSError) as error:
        logger.warning("Cache unreachable for the source conversion stats: %s", error)
        return None


@contextmanager
def source_conversion_stats_held():
    """Within the block ``source_conversion_stats`` reads the shared cache once: a
    batch scoring many leads does one cache round trip, not one per lead."""
    token = _held.set({})
    try:
        yield
    finally:
        _held.reset(token)


def forget_source_conversion_stats() -> None:
    """Drop the cached stats (after a bulk import, or between tests)."""
    _cache_call(cache.delete, _cache_key())


def leads_needing_rescore(*, now: datetime) -> QuerySet[Lead]:
    """Leads never scored, scored more than RESCORE_AFTER_HOURS ago, or changed since
    they were scored (a save or a new interaction bumps ``updated_at``); the longest
    unscored first. Archived leads are left out."""
    cutoff = now - timedelta(hours=scoring_config()["RESCORE_AFTER_HOURS"])
    scored_at = F("score_record__scored_at")
    return Lead.objects.filter(
        Q(score_record__isnull=True) | Q(score_record__scored_at__lt=cutoff) | Q(updated_at__gt=scored_at),
        archived_at__isnull=True,
    ).order_by(scored_at.asc(nulls_first=True), "pk")
