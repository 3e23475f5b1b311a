"""What leads send back, logged on the lead as inbound interactions.

Texts arrive at the SMS provider's incoming-message webhook (``integrations.sms``, its
signature checked there) and reach ``on_inbound_text``: the sender's number finds the
lead (its E.164 phone; the newest live lead when several share it); "STOP",
"UNSUBSCRIBE" (and the carriers' other stop words) set the SMS opt-out and withdraw
text consent, "START"/"UNSTOP" clear it and grant it again. A number that is no lead's
is logged and dropped.

Emails: plan emails carry ``Reply-To: reply+<signed lead token>@PLANS_REPLY_DOMAIN``
(``reply_address``). The mail provider's inbound-parse webhook (the common SendGrid /
Mailgun style: ``multipart/form-data`` with ``from``, ``to``, ``subject``, ``text``)
posts each reply to ``/plans/inbound-email/<PLANS_INBOUND_EMAIL_SECRET>``;
``record_inbound_email`` finds the lead from the token in ``to``. We chose the webhook
over running an SMTP receiver: the mail provider already runs hardened MX servers,
spam filtering and retries, and the app stays a plain HTTP service.

Either way the reply is an interaction; the lead events it makes pause the plans
(``triggers``).
"""

import logging

from django.core.exceptions import ValidationError
from django.utils import timezone

from integrations.plans import reply_address, services
from integrations.sms.services import InboundText
from leads.core.validation import normalize_phone
from leads.errors import NotFound, ValidationFailed
from leads.models import InteractionType, Lead

logger = logging.getLogger(__name__)

STOP_WORDS = {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "opt-out", "revoke"}
START_WORDS = {"start", "unstop", "yes", "subscribe"}
MAX_TEXT = 20_000


def lead_by_phone(number: str) -> Lead | None:
    try:
        phone, _ = normalize_phone(number)
    except ValidationError:
        return None
    return (
        Lead.objects.filter(contact__phone=phone, archived_at__isnull=True)
        .select_related("contact")
        .order_by("-created_at", "-pk")
        .first()
    )


def on_inbound_text(text: InboundText) -> None:
    lead = lead_by_phone(text.from_number)
    if lead is None:
        logger.info("A text from %s matches no lead; dropped", text.from_number[-4:])
        return
    word = text.body.strip().strip(".!").casefold()
    opt_out = True if word in STOP_WORDS else False if word in START_WORDS and lead.contact.sms_opt_out else None
    summary = {True: "Texted STOP: opted out of texts", False: "Texted START: opted in to texts again"}.get(
        opt_out, f"Text from the lead: {text.body[:200]}"
    )
    services.log_inbound(lead=lead, type=InteractionType.TEXT, summary=summary, notes=text.body, sms_opt_out=opt_out)
    if opt_out is not None:
        source = "STOP reply" if opt_out else "START reply"
        services.set_consent(lead=lead, channel="text", granted=not opt_out, source=source)


def record_inbound_email(*, sender: str, to: str, subject: str, text: str) -> Lead:
    """Log a reply to a plan email on the lead its reply address names. ``NotFound``
    when the address carries no valid token (nothing is saved)."""
    lead_id = reply_address.lead_id_from(to)
    if lead_id is None:
        raise NotFound("The reply address names no lead.")
    lead = Lead.objects.filter(public_id=lead_id, archived_at__isnull=True).select_related("contact").first()
    if lead is None:
        raise NotFound("The reply address names no lead.")
    if not sender:
        raise ValidationFailed(fields={"from": ["The sender is missing."]})
    summary = f"Email reply: {' '.join(subject.split())[:200] or '(no subject)'}"
    services.log_inbound(
        lead=lead,
        type=InteractionType.EMAIL,
        summary=summary,
        notes=f"From: {sender[:254]}\n\n{text[:MAX_TEXT]}",
        at=timezone.now(),
    )
    return lead
