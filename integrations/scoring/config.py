"""The scoring weights: ``settings.LEAD_SCORING`` laid over the defaults below.

Every key is optional in settings; a missing key (or a missing factor inside a
weights dict) falls back to its default, so a deployment can tune one weight
without restating the rest.
"""

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Most points each factor can add. With these defaults the axes sum to 55 + 45 = 100.
    "FIT_WEIGHTS": {"financing": 15, "budget_fit": 10, "timeline": 10, "contact": 10, "source_quality": 10},
    "ENGAGEMENT_WEIGHTS": {"interactions": 8, "recency": 12, "replies": 8, "showings": 8, "web_activity": 9},
    # Recency points halve every this many days since the lead's last sign of life.
    "RECENCY_HALF_LIFE_DAYS": 7.0,
    # Counts at which a count-based factor earns its full points.
    "INTERACTIONS_FULL_AT": 5,
    "REPLIES_FULL_AT": 2,
    "SHOWINGS_FULL_AT": 1,
    # Website activity (leads.webevents) over this many days: views (and alert clicks)
    # earn their full share at WEB_VIEWS_FULL_AT, listings and searches saved at
    # WEB_SAVES_FULL_AT.
    "WEB_ACTIVITY_DAYS": 14,
    "WEB_VIEWS_FULL_AT": 6,
    "WEB_SAVES_FULL_AT": 2,
    # A budget this far (percent) under the market median earns no budget points.
    "BUDGET_GAP_ZERO_AT_PCT": 50.0,
    # Source quality: conversion by source, smoothed towards the team's overall rate as
    # if every source had PRIOR_WEIGHT extra leads converting at that rate. PRIOR_RATE
    # is the overall rate assumed before the team has any history.
    "SOURCE_PRIOR_RATE": 0.15,
    "SOURCE_PRIOR_WEIGHT": 20,
    # Leads younger than this count only once they convert: a lead that arrived
    # yesterday has not failed to convert yet.
    "SOURCE_MATURITY_DAYS": 30,
    "SOURCE_STATS_CACHE_SECONDS": 300,
    # The periodic task rescores leads scored longer ago than this, or changed since.
    "RESCORE_AFTER_HOURS": 6,
    "RESCORE_BATCH_SIZE": 500,
}


def scoring_config() -> dict[str, Any]:
    """The effective scoring settings (defaults overridden by ``settings.LEAD_SCORING``)."""
    configured: dict[str, Any] = getattr(settings, "LEAD_SCORING", None) or {}
    merged = {**DEFAULTS, **configured}
    for key in ("FIT_WEIGHTS", "ENGAGEMENT_WEIGHTS"):
        merged[key] = {**DEFAULTS[key], **(configured.get(key) or {})}
    return merged
