"""Deployment checks of our own settings (``manage.py check --deploy``)."""

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks


def _is_this_machine(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


@checks.register("site_url", deploy=True)
def check_site_url(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """SITE_URL, which every emailed link is built on, must be where users reach the
    site: warns when it is not an absolute http(s) URL, or names this machine while
    DEBUG is off."""
    parts = urlsplit(settings.SITE_URL)
    hint = "Set SITE_URL to the address users reach the site at, e.g. https://leads.example.com."
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [
            checks.Warning(
                f"SITE_URL ({settings.SITE_URL!r}) is not an absolute http(s) URL.", hint=hint, id="leadmgmt.W001"
            )
        ]
    if not settings.DEBUG and _is_this_machine(parts.hostname):
        return [
            checks.Warning(
                f"SITE_URL ({settings.SITE_URL}) points at this machine, so links in emails lead nowhere.",
                hint=hint,
                id="leadmgmt.W002",
            )
        ]
    return []
