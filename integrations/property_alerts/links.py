"""The signed links of an alert email; holding one is the permission (no login).

- the frequency page (``frequency_url``): names the lead;
- the open pixel (``open_pixel_url``) and a listing's click (``click_url``): name the
  message, and for a click the listing (which must be one the message listed);
- a listing's public page (``listing_page_url``): names the listing.

Each kind has a salt of its own (a token of one kind is refused as another) and is
dated: it expires after ``PROPERTY_ALERTS_LINK_MAX_AGE_DAYS``. A click redirects only
to an address built here from stored data (``listing_target``): no URL travels in a link.
"""

from datetime import timedelta
from urllib.parse import quote

from django.conf import settings
from django.core import signing
from django.urls import reverse

from integrations.market.models import Listing
from leads.errors import ApplicationError

SALT = "integrations.property_alerts"
MAX_TOKEN_LENGTH = 300


class InvalidAlertLink(ApplicationError):
    status_code = 400
    code = "invalid_alert_link"
    default_message = "This link is not valid or has expired."


def _signer(kind: str) -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=f"{SALT}.{kind}")


def sign(kind: str, payload: dict) -> str:
    return _signer(kind).sign_object(payload, compress=False)


def unsign(kind: str, token: str) -> dict:
    """The payload of a ``kind`` token; InvalidAlertLink when tampered with, expired or of another kind."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidAlertLink()
    max_age = timedelta(days=settings.PROPERTY_ALERTS_LINK_MAX_AGE_DAYS)
    try:
        payload = _signer(kind).unsign_object(token, max_age=max_age)
    except signing.SignatureExpired:
        raise InvalidAlertLink("This link has expired.") from None
    except (signing.BadSignature, ValueError, UnicodeDecodeError):
        raise InvalidAlertLink() from None
    if not isinstance(payload, dict):
        raise InvalidAlertLink()
    return payload


def _absolute(name: str, token: str) -> str:
    return f"{settings.SITE_URL}{reverse(name, kwargs={'token': token})}"


def frequency_token(public_id: str) -> str:
    return sign("frequency", {"lead": public_id})


def frequency_url(public_id: str) -> str:
    return _absolute("property_alerts:frequency", frequency_token(public_id))


def open_pixel_url(message_key: str) -> str:
    return _absolute("property_alerts:open", sign("open", {"m": str(message_key)}))


def click_url(message_key: str, listing_id: int) -> str:
    return _absolute("property_alerts:click", sign("click", {"m": str(message_key), "x": int(listing_id)}))


def listing_token(listing_id: int) -> str:
    return sign("listing", {"x": int(listing_id)})


def listing_page_url(listing_id: int) -> str:
    return _absolute("property_alerts:listing", listing_token(listing_id))


def listing_target(listing: Listing) -> str:
    """Where a click on ``listing`` goes: the listings site's page (``PLANS_LISTING_URL``
    with its ``{external_id}``), else the listing's public page here."""
    template = settings.PLANS_LISTING_URL
    if template and template.startswith(("https://", "http://")):
        return template.replace("{external_id}", quote(listing.external_id, safe=""))
    return reverse("property_alerts:listing", kwargs={"token": listing_token(listing.pk)})
