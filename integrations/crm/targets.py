"""Which CRM targets are in use, and pushing one lead version to one of them."""

from contextlib import closing

from django.conf import settings

from integrations.crm.hubspot.client import HubSpotClient
from integrations.crm.hubspot.mapping import contact_properties
from integrations.crm.models import SyncTarget
from integrations.crm.webhook.client import WebhookClient
from leads.core.representations import lead_data
from leads.models import Lead

WEBHOOK_EVENT = "lead.synced"


def target_is_configured(target: str) -> bool:
    if target == SyncTarget.WEBHOOK:
        return bool(settings.CRM_WEBHOOK_URL and settings.CRM_WEBHOOK_SECRET)
    if target == SyncTarget.HUBSPOT:
        return bool(settings.HUBSPOT_BASE_URL and settings.HUBSPOT_ACCESS_TOKEN)
    return False


def enabled_targets() -> list[SyncTarget]:
    """The targets listed in CRM_TARGETS that are also configured, in a fixed order."""
    wanted = set(settings.CRM_TARGETS)
    return [target for target in SyncTarget if target.value in wanted and target_is_configured(target)]


def push(*, target: str, lead: Lead, version: int, idempotency_key: str, external_id: str) -> str:
    """Send the lead (expects ``with_lead_details``) as ``version`` to ``target``.

    Returns the target's id for the lead ("" when it has none); raises a
    ``http_delivery.DeliveryError`` when the target does not take it.
    """
    if target == SyncTarget.WEBHOOK:
        payload = {"event": WEBHOOK_EVENT, "lead": lead_data(lead), "version": version}
        with closing(WebhookClient.from_settings()) as webhook:
            webhook.post_event(payload=payload, idempotency_key=idempotency_key)
        return external_id
    if target == SyncTarget.HUBSPOT:
        with closing(HubSpotClient.from_settings()) as hubspot:
            return hubspot.save_contact(properties=contact_properties(lead), contact_id=external_id)
    raise ValueError(f"Unknown CRM target {target!r}")
