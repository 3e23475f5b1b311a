"""Reads from a PostgreSQL streaming replica (``DATABASE_REPLICA_URL``), never stale for
the one who wrote.

A read goes to the replica only when all of these hold, and to the primary otherwise:

- the code asked for it: ``reads_from_replica`` on list pages, reports, exports and the
  API's lists (a lead's page, every form and every write read the primary);
- it is not inside a transaction (a read inside a write sees the write);
- the user did not write in the last ``READ_YOUR_WRITES_SECONDS`` (a cookie for the
  browser, a cache key for API clients): nobody sees their own change vanish;
- the replica answered its last check and was at most ``REPLICA_MAX_LAG_SECONDS`` behind
  (checked at most every ``REPLICA_CHECK_SECONDS`` per process, with
  ``pg_last_xact_replay_timestamp``; a replica that does not answer counts as down).

Every write goes to the primary (``ReplicaRouter.db_for_write``).
"""

import contextvars
import functools
import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connections

logger = logging.getLogger(__name__)

REPLICA = "replica"
PRIMARY = "default"
WROTE_COOKIE = "wrote_at"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_reads_may_lag = contextvars.ContextVar("reads_may_lag", default=False)


def configured() -> bool:
    return REPLICA in settings.DATABASES


class ReplicaRouter:
    """``DATABASE_ROUTERS`` when a replica is configured."""

    def db_for_read(self, model, **hints):
        if _reads_may_lag.get() and not connections[PRIMARY].in_atomic_block:
            return REPLICA
        return PRIMARY

    def db_for_write(self, model, **hints):
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the same database, one of them a copy

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == PRIMARY


# --- the replica's health ------------------------------------------------------------


@dataclass(frozen=True)
class ReplicaStatus:
    reachable: bool
    lag_seconds: float | None  # None when unreachable
    checked_at: float  # time.time()
    problem: str = ""

    @property
    def usable(self) -> bool:
        return self.reachable and self.lag_seconds is not None and self.lag_seconds <= settings.REPLICA_MAX_LAG_SECONDS


_last_status: ReplicaStatus | None = None
_status_lock = threading.Lock()

LAG_SQL = """
SELECT pg_is_in_recovery(),
       pg_last_wal_receive_lsn() IS NOT NULL AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn(),
       EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())
"""


def status(*, fresh: bool = False) -> ReplicaStatus | None:
    """The replica's reachability and lag (None when no replica is configured), checked
    again when the last check is older than ``REPLICA_CHECK_SECONDS`` or ``fresh``."""
    global _last_status
    if not configured():
        return None
    with _status_lock:
        last = _last_status
        if fresh or last is None or time.time() - last.checked_at >= settings.REPLICA_CHECK_SECONDS:
            _last_status = last = _check()
    return last


def _check() -> ReplicaStatus:
    connection = connections[REPLICA]
    try:
        with connection.cursor() as cursor:
            cursor.execute(LAG_SQL)
            in_recovery, caught_up, behind = cursor.fetchone()
    except DatabaseError as error:
        connection.close()  # a broken connection is not reused by the next check
        logger.warning("Read replica unreachable: reads go to the primary (%s)", error)
        return ReplicaStatus(False, None, time.time(), problem=f"Unreachable: {str(error).strip()[:200]}")
    # A copy no longer replaying (promoted), or one that replayed all it received, is not behind.
    caught_up = caught_up or not in_recovery
    lag = 0.0 if caught_up else (float(behind) if behind is not None else None)
    problem = "" if lag is not None else "It has replayed nothing yet."
    return ReplicaStatus(True, lag, time.time(), problem=problem)


# --- read-your-writes ----------------------------------------------------------------


def _wrote_key(user_pk: int) -> str:
    return f"replica:wrote:{user_pk}"


def wrote_recently(request) -> bool:
    """Whether the request's user wrote in the last READ_YOUR_WRITES_SECONDS."""
    if request.COOKIES.get(WROTE_COOKIE):
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and cache.get(_wrote_key(user.pk)))


class ReadYourWritesMiddleware:
    """Remembers, for a few seconds, that a user wrote (a successful POST, PUT, PATCH or
    DELETE): their reads go to the primary meanwhile."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if configured() and request.method in UNSAFE_METHODS and response.status_code < 400:
            seconds = settings.READ_YOUR_WRITES_SECONDS
            response.set_cookie(
                WROTE_COOKIE, "1", max_age=seconds, httponly=True, samesite="Lax", secure=request.is_secure()
            )
            user = getattr(request, "user", None)  # DRF sets the token's user on the request too
            if user is not None and user.is_authenticated:
                cache.set(_wrote_key(user.pk), 1, timeout=seconds)
        return response


# --- where replica reads are allowed -------------------------------------------------


@contextmanager
def replica_reads(request):
    """Reads in the block may come from the replica, when it is usable and the request's
    user did not just write; yields whether they do."""
    allowed = False
    if configured() and not wrote_recently(request):
        current = status()
        allowed = current is not None and current.usable
    token = _reads_may_lag.set(allowed)
    try:
        yield allowed
    finally:
        _reads_may_lag.reset(token)


def reads_from_replica(view):
    """Decorate a view (a function taking the request, or a method taking self and the
    request) whose reads may come from the replica."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        request = args[1] if len(args) > 1 and hasattr(args[1], "COOKIES") else args[0]
        with replica_reads(request):
            return view(*args, **kwargs)

    return wrapper
