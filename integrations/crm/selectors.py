"""CRM sync reads."""

from datetime import datetime

from django.db.models import QuerySet

from integrations.crm.models import CrmSyncRecord, SyncStatus
from integrations.crm.targets import enabled_targets
from leads.core.representations import iso
from leads.models import Lead

NOT_CONFIGURED = "not_configured"


def due_records(now: datetime) -> QuerySet[CrmSyncRecord]:
    """Records of enabled targets waiting to be sent whose ``next_attempt_at`` has passed,
    the longest waiting first (served by the ``crm_sync_due`` index)."""
    return CrmSyncRecord.objects.filter(
        status__in=[SyncStatus.PENDING, SyncStatus.FAILED],
        next_attempt_at__lte=now,
        target__in=enabled_targets(),
    ).order_by("next_attempt_at", "pk")


def sync_state_for_lead(lead: Lead) -> list[dict]:
    """Where the lead's CRM sync stands, one entry per enabled target.

    A target with no record yet is "pending" (the after-save work has not reached
    it). With no target configured the one entry has status "not_configured".
    One query, none when ``crm_sync_records`` is prefetched.
    """
    targets = enabled_targets()
    if not targets:
        return [_state(target=None, status=NOT_CONFIGURED)]
    records = {record.target: record for record in lead.crm_sync_records.all()}
    states = []
    for target in targets:
        record = records.get(target)
        if record is None:
            states.append(_state(target=target.value, status=SyncStatus.PENDING.value))
            continue
        states.append(
            _state(
                target=record.target,
                status=record.status,
                attempts=record.attempts,
                last_error=record.last_error,
                synced_version=record.synced_version or None,
                last_attempt_at=iso(record.last_attempt_at),
                next_retry_at=iso(record.next_attempt_at) if record.status == SyncStatus.FAILED else None,
            )
        )
    return states


def _state(
    *,
    target: str | None,
    status: str,
    attempts: int = 0,
    last_error: str = "",
    synced_version: int | None = None,
    last_attempt_at: str | None = None,
    next_retry_at: str | None = None,
) -> dict:
    return {
        "target": target,
        "status": status,
        "attempts": attempts,
        "last_error": last_error,
        "synced_version": synced_version,
        "last_attempt_at": last_attempt_at,
        "next_retry_at": next_retry_at,
    }
