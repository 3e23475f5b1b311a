"""Lead representations served from the cache (Redis with REDIS_URL, local memory
otherwise) for GET /api/v2/leads/{id}.

An entry is keyed by the lead's pk and its *stamp* (``selectors.CACHE_STAMP_FIELDS``:
the version, which every service write bumps, and the columns that the pipeline,
rescoring and the workflows write without bumping it), plus
``REPRESENTATION_VERSION``. A read first fetches the stamp with one query on the
lead row (which also checks the reader may see the lead), so a write is never
followed by a stale read: it changes the stamp, and the old entry is simply never
asked for again (it expires after LEAD_CACHE_SECONDS). Entries are shared by all
readers: the representation does not depend on who reads it.
"""

import hashlib
import json
import logging

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

from leads.core import selectors
from leads.core.representations import lead_data
from leads.models import Lead, User

logger = logging.getLogger(__name__)

# Bump when ``lead_data`` changes shape, so entries written by the previous code are not served.
REPRESENTATION_VERSION = 1


def cached_lead_data(*, user: User, lead_id: str) -> dict:
    """``lead_data`` of the visible lead, from the cache when its stamp is unchanged.

    NotFound when the lead is missing, hidden or archived.
    """
    pk, stamp = selectors.lead_cache_stamp(user=user, lead_id=lead_id)
    data = _cache_get(cache_key(pk, stamp))
    if data is not None:
        return data
    lead = selectors.lead_get(user=user, lead_id=lead_id)
    data = lead_data(lead)
    # Keyed by the stamp of what was read: a write between the two queries is not mixed up.
    _cache_set(cache_key(lead.pk, lead_stamp(lead)), data)
    return data


def lead_stamp(lead: Lead) -> tuple:
    return selectors.lead_stamp(lead)


def cache_key(pk: int, stamp: tuple) -> str:
    digest = hashlib.sha256(json.dumps([pk, *stamp], default=str, sort_keys=True).encode()).hexdigest()
    return f"lead-repr:v{REPRESENTATION_VERSION}:{pk}:{digest[:32]}"


# The cache only saves work: when it fails, the lead is read from the database.


def _cache_get(key: str) -> dict | None:
    try:
        return cache.get(key)
    except (RedisError, OSError):  # the cache (Redis) is unreachable
        logger.warning("Lead cache read failed", exc_info=True)
        return None


def _cache_set(key: str, data: dict) -> None:
    try:
        cache.set(key, data, settings.LEAD_CACHE_SECONDS)
    except (RedisError, OSError):
        logger.warning("Lead cache write failed", exc_info=True)
