"""System checks: a half-configured CRM target is silently off, so say so."""

from django.conf import settings
from django.core import checks

from integrations.crm.models import SyncTarget


@checks.register(checks.Tags.compatibility)
def crm_targets_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    warnings = []
    known = {target.value for target in SyncTarget}
    unknown = sorted(set(settings.CRM_TARGETS) - known)
    if unknown:
        warnings.append(
            checks.Warning(
                f"CRM_TARGETS names unknown targets: {', '.join(unknown)}.",
                hint=f"Known targets: {', '.join(sorted(known))}.",
                id="crm.W001",
            )
        )
    if "webhook" in settings.CRM_TARGETS and settings.CRM_WEBHOOK_URL and not settings.CRM_WEBHOOK_SECRET:
        warnings.append(
            checks.Warning(
                "CRM_WEBHOOK_URL is set but CRM_WEBHOOK_SECRET is empty, so the webhook target is off.",
                hint="Set CRM_WEBHOOK_SECRET to the secret the receiver checks signatures with.",
                id="crm.W002",
            )
        )
    return warnings
