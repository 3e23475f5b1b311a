"""Idempotent creates: the ``Idempotency-Key`` header on POST /api/v2/leads,
/api/v2/leads/{id}/interactions and /api/v2/leads/batch.

The first request with a key does the work, and its answer (when it is a 2xx) is
kept for IDEMPOTENCY_KEY_TTL_HOURS. A retry with the same key, method, path
(with the query) and JSON body gets that answer again, with
``Idempotent-Replayed: true``, and changes nothing. The same key with another
request is 422 ``idempotency_key_reused``. Keys belong to the user who sent them.
A request that fails (4xx or an error) keeps nothing, so its key can be sent again.

How concurrent retries stay single: the record (user, key) is inserted first, in
its own transaction (the unique constraint leaves one row), then the work runs in
a transaction that holds the row's lock and writes the answer into the row before
it commits. A retry arriving meanwhile waits for the lock (at most
IDEMPOTENCY_WAIT_SECONDS, then 409 ``idempotency_key_in_progress`` with
Retry-After) and then finds the answer. A process that dies mid-request rolls
back and releases the lock, and the next retry takes the row over and does the work.
SQLite needs no row lock: its write transactions already run one at a time.
"""

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, OperationalError, transaction
from django.utils import timezone
from rest_framework.response import Response

from leads.api.envelope import processing_time
from leads.errors import ApplicationError, ValidationFailed
from leads.models import IdempotencyRecord

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEPT_HEADERS = ("ETag", "Location")
_KEY_SHAPE = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII, as a UUID or a ULID is
_LOCK_POLL_SECONDS = 0.05


class IdempotencyKeyReused(ApplicationError):
    status_code = 422
    code = "idempotency_key_reused"
    default_message = (
        "This Idempotency-Key was already used for a different request. Send a new key with a new request."
    )


class IdempotencyKeyInProgress(ApplicationError):
    status_code = 409
    code = "idempotency_key_in_progress"
    default_message = "A request with this Idempotency-Key is still being processed. Retry in a moment."
    headers = {"Retry-After": "1"}


def idempotent(request, handler: Callable[[], Response]) -> Response:
    """``handler()``'s answer, run at most once per key (see the module docstring)."""
    key = idempotency_key(request)
    if key is None:
        return handler()
    fingerprint = request_fingerprint(request)
    deadline = time.monotonic() + settings.IDEMPOTENCY_WAIT_SECONDS
    while True:
        known = _reserve(request, key, fingerprint)
        if known is not None and known.request_hash != fingerprint:
            raise IdempotencyKeyReused()
        if known is not None and known.response_status is not None:
            return _replay(request, known)
        running = None
        try:
            with transaction.atomic():
                record = _lock(request.user, key, deadline)
                if record is None:  # a failed first attempt let the key go: reserve it again
                    if time.monotonic() >= deadline:
                        raise IdempotencyKeyInProgress()
                    continue
                if record.request_hash != fingerprint:
                    raise IdempotencyKeyReused()
                if record.response_status is not None:
                    return _replay(request, record)
                running = record
                response = handler()
                if status_is_kept(response.status_code):
                    _keep(record, response)
                else:
                    record.delete()
                return response
        except Exception:
            if running is not None:
                _release(running)
            raise


def idempotency_key(request) -> str | None:
    """The request's key; None when there is none, a 400 when it is malformed."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not _KEY_SHAPE.fullmatch(key):
        raise ValidationFailed(
            f"The {HEADER} header is invalid.",
            fields={HEADER: ["Use 1 to 255 visible ASCII characters, e.g. a UUID."]},
        )
    return key


def request_fingerprint(request) -> str:
    """SHA-256 of the method, the path with its query and the canonical JSON body."""
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{request.method} {request.get_full_path()}\n{body}".encode()).hexdigest()


def status_is_kept(status_code: int) -> bool:
    return 200 <= status_code < 300


def purge_expired_keys(now: datetime | None = None) -> int:
    """Delete the records past their expiry (a periodic job); returns how many."""
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted


def _reserve(request, key: str, fingerprint: str) -> IdempotencyRecord | None:
    """Insert the record in its own transaction; the existing one (None if it is ours)."""
    now = timezone.now()
    records = IdempotencyRecord.objects.filter(user=request.user, key=key)
    records.filter(expires_at__lte=now).delete()  # an expired key starts afresh
    try:
        with transaction.atomic():
            IdempotencyRecord.objects.create(
                user=request.user,
                key=key,
                request_method=request.method,
                request_path=request.get_full_path()[:255],
                request_hash=fingerprint,
                expires_at=now + timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS),
            )
    except IntegrityError:
        return records.first()
    return None


def _lock(user, key: str, deadline: float) -> IdempotencyRecord | None:
    """The record, locked until the transaction ends; waits while another request
    holds it and answers 409 after the deadline. None when it has gone meanwhile."""
    records = IdempotencyRecord.objects.select_for_update(nowait=True).filter(user=user, key=key)
    while True:
        try:
            with transaction.atomic():  # a refused lock must not break the outer transaction
                return records.first()
        except OperationalError:  # PostgreSQL: the request doing the work holds the row
            if time.monotonic() >= deadline:
                raise IdempotencyKeyInProgress() from None
            time.sleep(_LOCK_POLL_SECONDS)


def _keep(record: IdempotencyRecord, response: Response) -> None:
    record.response_status = response.status_code
    record.response_body = response.data
    record.response_headers = {name: response[name] for name in KEPT_HEADERS if response.has_header(name)}
    record.save(update_fields=["response_status", "response_body", "response_headers"])


def _replay(request, record: IdempotencyRecord) -> Response:
    body = dict(record.response_body or {})
    if "processing_time" in body:
        body["processing_time"] = processing_time(request)
    headers = {**record.response_headers, REPLAYED_HEADER: "true"}
    return Response(body, status=record.response_status, headers=headers)


def _release(record: IdempotencyRecord) -> None:
    """Let the key go after the work failed (its transaction rolled back)."""
    try:
        IdempotencyRecord.objects.filter(pk=record.pk, response_status__isnull=True).delete()
    except DatabaseError:  # the next retry takes the unlocked row over anyway
        logger.warning("Idempotency record %s not released", record.pk, exc_info=True)
