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

from django.db import transaction
from django.utils import timezone

from integrations.crm.models import CrmSyncRecord, SyncStatus
from integrations.crm.selectors import due_records
from integrations.crm.targets import enabled_targets, push, target_is_configured
from integrations.http_delivery import DeliveryError, TransientDeliveryError
from integrations.outbox import Outbox, Outcome
from leads.core.selectors import with_lead_details
from leads.models import Lead

logger = logging.getLogger(__name__)

OUTBOX = Outbox(
    model=CrmSyncRecord,
    label="CRM sync record",
    settings_prefix="CRM_SYNC",
    pending=SyncStatus.PENDING,
    failed=SyncStatus.FAILED,
    dead=SyncStatus.DEAD,
)


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
                    "next_attempt_at": OUTBOX.requeue_time(now),
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
                record.next_attempt_at = OUTBOX.requeue_time(now)
                fields += ["status", "attempts", "next_attempt_at"]
                to_deliver.append(record)
            record.save(update_fields=fields)
    return to_deliver


def deliver(record_id: int) -> Outcome:
    """Send the record's wanted version to its target, at most one attempt at a time.

    Sends nothing when the target already has the version, the record is dead,
    another attempt is in flight or the target is no longer configured. Records the
    result: synced, failed with a backoff (transient), or dead (permanent, or the last
    allowed attempt). When a newer version arrived while this one was on its way, the
    record is left pending for it (``waits_to_be_sent``).
    """
    claimed = OUTBOX.claim(
        record_id,
        is_done=lambda record: record.synced_version >= record.wanted_version,
        is_held=lambda record: not target_is_configured(record.target),
    )
    if isinstance(claimed, Outcome):
        return claimed
    record = claimed
    version = record.wanted_version
    lead = with_lead_details(Lead.objects.filter(pk=record.lead_id)).first()
    if lead is None:  # deleted since the claim, and the record with it
        return Outcome.MISSING
    try:
        external_id = push(
            target=record.target,
            lead=lead,
            version=version,
            idempotency_key=record.idempotency_key,
            external_id=record.external_id,
        )
    except DeliveryError as error:
        return _record_failure(record, version=version, error=error)
    except Exception as error:
        # A bug or a time limit: count it like a transient failure, so the record
        # is retried a bounded number of times instead of sitting claimed, then re-raise.
        _record_failure(
            record, version=version, error=TransientDeliveryError(f"Unexpected {type(error).__name__}: {error}")
        )
        raise
    return _record_success(record, version=version, external_id=external_id)


def due(now=None):
    """The records whose next attempt is due (for ``Outbox.sweep``)."""
    return due_records(now or timezone.now())


@transaction.atomic
def replay(record_ids: list[int]) -> list[int]:
    """Send the records' wanted versions again, whatever their state; returns the ids to
    queue once this commits. Attempts start again from zero and an attempt in flight no
    longer counts. A synced record is sent again too (the receiver may have lost it);
    it keeps its idempotency key, so a receiver that has the version can drop the repeat.
    """
    records = CrmSyncRecord.objects.select_for_update().filter(pk__in=record_ids)
    for record in records:
        if record.synced_version >= record.wanted_version:
            CrmSyncRecord.objects.filter(pk=record.pk).update(synced_version=record.wanted_version - 1)
    return OUTBOX.rearm(CrmSyncRecord.objects.filter(pk__in=record_ids))


def waits_to_be_sent(record_id: int) -> bool:
    """Whether the record is pending and not in flight: a newer version to send now."""
    return CrmSyncRecord.objects.filter(pk=record_id, status=SyncStatus.PENDING, claimed_until__isnull=True).exists()


def _record_success(record: CrmSyncRecord, *, version: int, external_id: str) -> Outcome:
    now = timezone.now()
    with OUTBOX.settle(record) as current:
        if current is not None:
            current.synced_version = max(current.synced_version, version)
            current.external_id = external_id or current.external_id
            current.last_error = ""
            if current.synced_version >= current.wanted_version:
                current.status, current.next_attempt_at = SyncStatus.SYNCED, None
            else:  # a newer version arrived while this one was on its way
                current.status, current.attempts = SyncStatus.PENDING, 0
                current.next_attempt_at = OUTBOX.requeue_time(now)
    logger.info("CRM sync %s of lead %s v%s: synced", record.target, record.lead_id, version)
    return Outcome.SENT


def _record_failure(record: CrmSyncRecord, *, version: int, error: DeliveryError) -> Outcome:
    """A rejected version is dead unless a newer one is waiting (it may be accepted)."""
    newer_waiting = CrmSyncRecord.objects.filter(pk=record.pk, wanted_version__gt=version).exists()
    if error.transient or not newer_waiting or record.attempts >= OUTBOX.setting("MAX_ATTEMPTS"):
        return OUTBOX.record_failure(record, error)
    with OUTBOX.settle(record) as current:
        if current is not None:
            current.status, current.last_error = SyncStatus.PENDING, str(error)
            current.next_attempt_at = OUTBOX.requeue_time(timezone.now())
    return Outcome.FAILED
