"""Opens and clicks of alerts as the lead's web activity (``leads.webevents``): the same
events an IDX website sends, with ``source="alert"`` and an event id derived from the
message and the listing, so a repeated open or click records nothing new."""

import logging
from datetime import datetime
from importlib import import_module

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from integrations.market.models import Listing
from integrations.property_alerts.models import AlertMessage
from leads.errors import ApplicationError

logger = logging.getLogger(__name__)

OPENED, CLICKED = "alert_opened", "alert_clicked"


def _recorder():
    """``record_web_event``, or None while the web events module is not installed."""
    try:
        return import_module("leads.webevents.services").record_web_event
    except (ImportError, AttributeError):
        return None


def is_available() -> bool:
    return _recorder() is not None


def event_id(message: AlertMessage, kind: str, listing: Listing | None = None) -> str:
    suffix = f":{listing.pk}" if listing is not None else ""
    return f"alert:{message.key}:{kind}{suffix}"


def record(message: AlertMessage, kind: str, *, at: datetime, listing: Listing | None = None, url: str = "") -> bool:
    """Record the open or click on the lead's activity; False when web events are not installed."""
    recorder = _recorder()
    if url.startswith("/"):  # our own listing page: the event keeps an absolute address
        url = f"{settings.SITE_URL}{url}"
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        url = ""  # (a SITE_URL without a domain, in development): the event without it, not no event
    if recorder is None:
        logger.info("Web events are not installed: %s of alert %s not recorded as activity", kind, message.key)
        return False
    try:
        recorder(
            lead=message.lead,
            kind=kind,
            occurred_at=at,
            event_id=event_id(message, kind, listing),
            listing_ref=listing.external_id if listing is not None else "",
            listing_url=url,
            source="alert",
            data={"alert": str(message.key), "frequency": message.frequency},
        )
    except ApplicationError as error:  # the open or click stands; only its activity entry is missing
        logger.warning(
            "The %s of alert %s was not recorded as activity: %s %s", kind, message.key, error.message, error.fields
        )
        return False
    return True
