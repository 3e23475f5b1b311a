"""CRM sync writes: the outbox's life cycle.

``enqueue_sync`` records which lead version each target should get, ``deliver``
sends it, ``sweep_outbox`` queues again what is due (retries, lost tasks) and
``replay`` lets the back office try again. Delivery is at least once; the
idempotency key ("<lead id>:<version>") lets a receiver drop repeats.

Who queues a delivery moves ``next_attempt_at`` to ``now + CRM_SYNC_REQUEUE_AFTER_SECONDS``,
so the sweeper only picks a record up again when that delivery never finished.
An attempt claims the record (``claimed_until``) in a short transaction and sends
outside any transaction: no database lock is held while a CRM takes its time.
"""

import logging
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from integrations import http_delivery
from integrations.crm.models import CrmSyncRecord, SyncStatus
from integrations.crm.selectors import due_records
from integrations.crm.targets import enabled_targets, push, target_is_configured
from integrations.http_delivery import DeliveryError, TransientDeliveryError, sweep_due
from leads.models import Lead
from leads.selectors import with_lead_details

logger = logging.getLogger(__name__)


class DeliveryOutcome(StrEnum):
    SYNCED = "synced"  # the target took the version
    FAILED = "failed"  # a transient failure; tried again later
    DEAD = "dead"  # rejected or out of attempts; nothing sent now either if it already was
    UP_TO_DATE = "up_to_date"  # the target already has the wanted version: nothing sent
    BUSY = "busy"  # another delivery of this record is in flight: nothing sent
    NOT_CONFIGURED = "not_configured"  # the target is no longer configured: nothing sent
    MISSING = "missing"  # no such record (its lead was deleted)


def idempotency_key(lead: Lead, version: int) -> str:
    return f"{lead.public_id}:{version}"


def enqueue_sync(lead: Lead) -> list[CrmSyncRecord]:
    """Ask every enabled target for the lead's current version; returns the records
    to deliver now (queue ``deliver_crm_sync`` for each once this has committed).

    Creates missing records and moves existing ones to the newer version. Running
    it again for the same (or an older) version changes nothing and returns [].
    A record already on its way or retrying is not returned: it keeps its backoff
    and sends the newest version on its next try. Returns [] when no target is
    configured (``sync_state_for_lead`` then says "not_configured").
    """
    targets = enabled_targets()
    if not targets:
        return []
    now = timezone.now()
    version = lead.version
    to_deliver: list[CrmSyncRecord] = []
    with transaction.atomic():
        for target in targets:
            record, created = CrmSyncRecord.objects.select_for_update().get_or_create(
                lead=lead,
                target=target,
                defaults={
                    "wanted_version": version,
                    "idempotency_key": idempotency_key(lead, version),
                    "next_attempt_at": _requeue_time(now),
                },
            )
            if created:
                to_deliver.append(record)
                continue
            if record.wanted_version >= version or record.synced_version >= version:
                continue
            record.wanted_version = version
            record.idempotency_key = idempotency_key(lead, version)
            fields = ["wanted_version", "idempotency_key", "updated_at"]
            if record.status in (SyncStatus.SYNCED, SyncStatus.DEAD):
                record.status = SyncStatus.PENDING
                record.attempts = 0
                record.next_attempt_at = _requeue_time(now)
                fields += ["status", "attempts", "next_attempt_at"]
                to_deliver.append(record)
            record.save(update_fields=fields)
    return to_deliver


def deliver(record_id: int) -> DeliveryOutcome:
    """Send the record's wanted version to its target, at most one attempt at a time.

    Re-reads the record and the lead; sends nothing when the target already has
    the version, the record is dead or another attempt is in flight. Records the
    result: synced, failed with a backoff (transient), or dead (permanent, or
    the last allowed attempt).
    """
    claimed = _claim(record_id)
    if isinstance(claimed, DeliveryOutcome):
        return claimed
    record = claimed
    version = record.wanted_version
    lead = with_lead_details(Lead.objects.filter(pk=record.lead_id)).first()
    if lead is None:  # deleted since the claim, and the record with it
        return DeliveryOutcome.MISSING
    try:
        external_id = push(
            target=record.target,
            lead=lead,
            version=version,
            idempotency_key=record.idempotency_key,
            external_id=record.external_id,
        )
    except DeliveryError as error:
        return _record_failure(record_id, version=version, error=error)
    except Exception as error:
        # A bug or a time limit: count it like a transient failure, so the record
        # is retried a bounded number of times instead of sitting claimed, then re-raise.
        unexpected = TransientDeliveryError(f"Unexpected {type(error).__name__}: {error}")
        _record_failure(record_id, version=version, error=unexpected)
        raise
    return _record_success(record_id, version=version, external_id=external_id)


def sweep_outbox(now: datetime | None = None, *, limit: int = 500) -> int:
    """Queue a delivery for each due record (``selectors.due_records``); returns how many
    were queued. Stops at the first broker failure: the rest stay due for the next sweep."""
    now = now or timezone.now()

    def take(record_id: int) -> bool:
        return bool(
            CrmSyncRecord.objects.filter(pk=record_id, next_attempt_at__lte=now).update(
                next_attempt_at=_requeue_time(now), updated_at=now
            )
        )

    due = due_records(now).values_list("pk", flat=True)[:limit]
    return sweep_due(due, take=take, dispatch=dispatch_delivery)


def replay(record_ids: list[int]) -> int:
    """Send the records' wanted versions again, whatever their state; returns how many.

    Attempts start again from zero. A synced record is sent again too (the
    receiver may have lost it); it keeps its idempotency key, so a receiver that
    has the version can drop the repeat.
    """
    now = timezone.now()
    with transaction.atomic():
        records = list(CrmSyncRecord.objects.select_for_update().filter(pk__in=record_ids))
        for record in records:
            record.status = SyncStatus.PENDING
            record.attempts = 0
            record.next_attempt_at = _requeue_time(now)
            record.synced_version = min(record.synced_version, record.wanted_version - 1)
            record.updated_at = now
        CrmSyncRecord.objects.bulk_update(
            records, ["status", "attempts", "next_attempt_at", "synced_version", "updated_at"]
        )
        _queue_deliveries([record.pk for record in records])
    return len(records)


def backoff_delay(attempts: int, *, retry_after: int | None = None) -> timedelta:
    """How long to wait after the ``attempts``-th failed try (``http_delivery.backoff_delay``
    with the CRM_SYNC_BACKOFF_* settings)."""
    return http_delivery.backoff_delay(
        attempts,
        base_seconds=settings.CRM_SYNC_BACKOFF_SECONDS,
        max_seconds=settings.CRM_SYNC_BACKOFF_MAX_SECONDS,
        retry_after=retry_after,
    )


def _claim(record_id: int) -> CrmSyncRecord | DeliveryOutcome:
    now = timezone.now()
    with transaction.atomic():
        record = CrmSyncRecord.objects.select_for_update(skip_locked=True).filter(pk=record_id).first()
        if record is None:
            exists = CrmSyncRecord.objects.filter(pk=record_id).exists()
            return DeliveryOutcome.BUSY if exists else DeliveryOutcome.MISSING
        if record.synced_version >= record.wanted_version:
            return DeliveryOutcome.UP_TO_DATE
        if record.status == SyncStatus.DEAD:
            return DeliveryOutcome.DEAD
        if record.claimed_until and record.claimed_until > now:
            return DeliveryOutcome.BUSY
        if not target_is_configured(record.target):
            return DeliveryOutcome.NOT_CONFIGURED
        if record.attempts >= settings.CRM_SYNC_MAX_ATTEMPTS:
            # Only attempts that never reported back (a killed worker) get here.
            record.status = SyncStatus.DEAD
            record.next_attempt_at = record.claimed_until = None
            record.last_error = (
                f"Gave up after {record.attempts} attempts; the last did not finish. {record.last_error}"
            )
            record.save()
            return DeliveryOutcome.DEAD
        record.attempts += 1
        record.last_attempt_at = now
        record.claimed_until = record.next_attempt_at = _requeue_time(now)
        record.save(update_fields=["attempts", "last_attempt_at", "claimed_until", "next_attempt_at", "updated_at"])
    return record


def _record_success(record_id: int, *, version: int, external_id: str) -> DeliveryOutcome:
    now = timezone.now()
    with transaction.atomic():
        record = CrmSyncRecord.objects.select_for_update().filter(pk=record_id).first()
        if record is None:
            return DeliveryOutcome.MISSING
        record.claimed_until = None
        record.synced_version = max(record.synced_version, version)
        record.external_id = external_id or record.external_id
        record.last_error = ""
        if record.synced_version >= record.wanted_version:
            record.status = SyncStatus.SYNCED
            record.next_attempt_at = None
        else:  # a newer version arrived while this one was on its way
            record.status = SyncStatus.PENDING
            record.attempts = 0
            record.next_attempt_at = _requeue_time(now)
            _queue_deliveries([record.pk])
        record.save()
    logger.info("CRM sync %s of lead %s v%s: synced", record.target, record.lead_id, version)
    return DeliveryOutcome.SYNCED


def _record_failure(record_id: int, *, version: int, error: DeliveryError) -> DeliveryOutcome:
    now = timezone.now()
    with transaction.atomic():
        record = CrmSyncRecord.objects.select_for_update().filter(pk=record_id).first()
        if record is None:
            return DeliveryOutcome.MISSING
        record.claimed_until = None
        record.last_error = str(error)
        newer_version_waiting = record.wanted_version > version
        if record.attempts >= settings.CRM_SYNC_MAX_ATTEMPTS or (not error.transient and not newer_version_waiting):
            record.status = SyncStatus.DEAD
            record.next_attempt_at = None
        elif not error.transient:  # rejected, but the newer version may be accepted
            record.status = SyncStatus.PENDING
            record.next_attempt_at = _requeue_time(now)
            _queue_deliveries([record.pk])
        else:
            record.status = SyncStatus.FAILED
            record.next_attempt_at = now + backoff_delay(record.attempts, retry_after=error.retry_after)
        record.save()
    logger.warning(
        "CRM sync %s of lead %s v%s: %s after %s attempt(s): %s",
        record.target,
        record.lead_id,
        version,
        record.status,
        record.attempts,
        record.last_error[:200],
    )
    return DeliveryOutcome.DEAD if record.status == SyncStatus.DEAD else DeliveryOutcome.FAILED


def _requeue_time(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.CRM_SYNC_REQUEUE_AFTER_SECONDS)


def dispatch_delivery(record_id: int) -> bool:
    """Send ``deliver_crm_sync(record_id)`` to the workers (run it in-process without a
    broker). False when the broker is unreachable: the record is then due at once,
    for the next sweep."""
    from integrations.crm.tasks import deliver_crm_sync

    try:
        deliver_crm_sync.apply_async(args=[record_id], retry=False)
    except (BrokerError, OSError) as error:
        logger.warning("Broker unreachable, CRM sync record %s left for the sweeper: %s", record_id, error)
        CrmSyncRecord.objects.filter(pk=record_id).update(next_attempt_at=timezone.now())
        return False
    return True


def _queue_deliveries(record_ids: list[int]) -> None:
    """Dispatch a delivery per record once the transaction commits."""
    for record_id in record_ids:
        transaction.on_commit(partial(dispatch_delivery, record_id))
