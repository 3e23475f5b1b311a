"""``manage.py check``: the VAPID keys in the settings must make a pair."""

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from integrations.alerts import vapid


@checks.register()
def vapid_keys_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    try:
        vapid.configured_keys()
    except ImproperlyConfigured as error:
        return [checks.Error(str(error), hint="manage.py vapid_keys prints a new pair.", id="alerts.E001")]
    return []
