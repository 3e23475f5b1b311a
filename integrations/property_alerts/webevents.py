"""Opens and clicks of alerts as the lead's web activity (``leads.webevents``): the same
events an IDX website sends, with ``source="alert"`` and an event id derived from the
message and the listing, so a repeated open or click records nothing new."""

import logging
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from integrations.market.models import Listing
from integrations.property_alerts.models import AlertMessage
from leads.errors import ApplicationError
from leads.webevents.models import WebEventKind
from leads.webevents.services import record_web_event

logger = logging.getLogger(__name__)

OPENED, CLICKED = WebEventKind.ALERT_OPENED, WebEventKind.ALERT_CLICKED


def event_id(message: AlertMessage, kind: str, listing: Listing | None = None) -> str:
    suffix = f":{listing.pk}" if listing is not None else ""
    return f"alert:{message.key}:{kind}{suffix}"


def record(message: AlertMessage, kind: str, *, at: datetime, listing: Listing | None = None, url: str = "") -> bool:
    """Record the open or click on the lead's activity (once per event id); False when the
    web events refused it (logged: the open or click itself stands)."""
    if url.startswith("/"):  # our own listing page: the event keeps an absolute address
        url = f"{settings.SITE_URL}{url}"
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        url = ""  # (a SITE_URL without a domain, in development): the event without it, not no event
    try:
        record_web_event(
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
