"""Signed unsubscribe links: every message to a lead carries one.

The token names the lead (by its opaque public id) and the channel, signed with
the project's secret and a salt of its own, and dated so it expires after
``settings.UNSUBSCRIBE_LINK_MAX_AGE_DAYS``. Holding the link is the permission to
opt out, so the page asks for no login.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

from leads.errors import ApplicationError
from leads.models import Lead

SALT = "integrations.workflows.unsubscribe"
MAX_TOKEN_LENGTH = 300
# Channel in a token -> the Contact flag that records the opt-out.
OPT_OUT_FIELDS = {"email": "email_opt_out", "sms": "sms_opt_out", "call": "call_opt_out"}
CHANNEL_LABELS = {"email": "emails", "sms": "text messages", "call": "phone calls"}


class InvalidUnsubscribeLink(ApplicationError):
    status_code = 400
    code = "invalid_unsubscribe_link"
    default_message = "This unsubscribe link is not valid or has expired."


@dataclass(frozen=True)
class UnsubscribeTarget:
    lead: Lead
    channel: str

    @property
    def channel_label(self) -> str:
        return CHANNEL_LABELS[self.channel]

    @property
    def already_opted_out(self) -> bool:
        return getattr(self.lead.contact, OPT_OUT_FIELDS[self.channel])


def unsubscribe_token(*, lead: Lead, channel: str = "email") -> str:
    if channel not in OPT_OUT_FIELDS:
        raise ValueError(f"Unknown channel {channel!r}")
    return signing.TimestampSigner(salt=SALT).sign_object({"lead": lead.public_id, "channel": channel})


def unsubscribe_url(*, lead: Lead, channel: str = "email") -> str:
    """The absolute link (``settings.SITE_URL``) that opts this lead out of ``channel``."""
    path = reverse("workflows:unsubscribe", kwargs={"token": unsubscribe_token(lead=lead, channel=channel)})
    return f"{settings.SITE_URL}{path}"


def unsubscribe_target(*, token: str) -> UnsubscribeTarget:
    """The lead and channel a token opts out; InvalidUnsubscribeLink when the token
    was tampered with, has expired or names a lead that no longer exists."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidUnsubscribeLink()
    max_age = timedelta(days=settings.UNSUBSCRIBE_LINK_MAX_AGE_DAYS)
    try:
        payload = signing.TimestampSigner(salt=SALT).unsign_object(token, max_age=max_age)
    except signing.SignatureExpired:
        raise InvalidUnsubscribeLink("This unsubscribe link has expired.") from None
    except (signing.BadSignature, ValueError):
        raise InvalidUnsubscribeLink() from None
    if not isinstance(payload, dict) or payload.get("channel") not in OPT_OUT_FIELDS:
        raise InvalidUnsubscribeLink()
    lead = Lead.objects.select_related("contact").filter(public_id=str(payload.get("lead"))).first()
    if lead is None:
        raise InvalidUnsubscribeLink()
    return UnsubscribeTarget(lead=lead, channel=payload["channel"])
