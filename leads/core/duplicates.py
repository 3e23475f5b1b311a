"""Duplicate leads: a new lead whose email address or phone number matches a lead
the team already has.

Emails match as whole addresses in any case ("Jane.Doe@Example.com" is
"jane.doe@example.com"; dots and "+tags" are not folded: they are different
mailboxes on most providers). Phones match on their E.164 form, which
``leads.core.validation.normalize_phone`` already gives every stored and incoming
number ("+1 (415) 555-0134", "415.555.0134" and "+14155550134" are one number).

The team is every lead that is not archived: an installation is one team (its
managers see every lead), and two agents working the same person is exactly the
duplicate to catch. An agent is told the existing lead's id and whether they may
see it, nothing more.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower

from leads.core.selectors import visible_leads
from leads.errors import Conflict
from leads.models import Contact, InteractionDirection, InteractionType, Lead, LeadSource, LeadType, PropertyType, User

EMAIL_FIELD = "contact.email"
PHONE_FIELD = "contact.phone"
_MESSAGES = {
    EMAIL_FIELD: "A lead with this email address already exists.",
    PHONE_FIELD: "A lead with this phone number already exists.",
}


class OnDuplicate:
    """What a create does when it finds a duplicate (the API's ``on_duplicate``)."""

    REJECT = "reject"  # 409 duplicate_lead, nothing written
    ATTACH = "attach"  # the inquiry becomes an interaction on the existing lead
    CHOICES = ((REJECT, "Refuse the new lead"), (ATTACH, "Attach the inquiry to the existing lead"))


class DuplicateLead(Conflict):
    code = "duplicate_lead"
    default_message = "A lead with this email address or phone number already exists."

    def __init__(self, match: "DuplicateMatch"):
        super().__init__(fields=match.fields)
        self.match = match
        # Shown beside code/message/fields in the API's error object.
        self.details = {"existing_lead_id": match.public_id, "existing_lead_visible": match.visible}


@dataclass(frozen=True)
class DuplicateMatch:
    """The existing lead a new one duplicates, and on which fields."""

    pk: int
    public_id: str
    visible: bool  # may the actor see the existing lead?
    fields: dict[str, list[str]] = field(default_factory=dict)


def email_key(email: str | None) -> str:
    """The form two addresses are compared in."""
    return (email or "").strip().lower()


def team_leads() -> QuerySet[Lead]:
    """The leads a new lead is compared with (and an inquiry may be attached to):
    every lead that is not archived (``contact_matches`` joins on the same rule)."""
    return Lead.objects.filter(archived_at__isnull=True)


def contact_matches(*, emails: Iterable[str], phones: Iterable[str]) -> tuple[dict[str, Lead], dict[str, Lead]]:
    """The oldest team lead per email key and per phone, in one query.

    Uses the ``lower(email)`` index and the phone index of ``Contact``.
    """
    emails = {email_key(email) for email in emails if email}
    phones = {phone for phone in phones if phone}
    if not emails and not phones:
        return {}, {}
    condition = Q()
    if emails:
        condition |= Q(email_key__in=emails)
    if phones:
        condition |= Q(phone__in=phones)
    rows = (
        Contact.objects.alias(email_key=Lower("email"))
        .filter(condition, lead__archived_at__isnull=True)
        .order_by("lead__created_at", "lead_id")
        .values_list("email", "phone", "lead_id", "lead__public_id")
    )
    by_email: dict[str, Lead] = {}
    by_phone: dict[str, Lead] = {}
    for email, phone, lead_pk, public_id in rows:
        lead = Lead(pk=lead_pk, public_id=public_id)
        if email and email_key(email) in emails:
            by_email.setdefault(email_key(email), lead)
        if phone and phone in phones:
            by_phone.setdefault(phone, lead)
    return by_email, by_phone


def find_duplicate(*, actor: User, email: str | None, phone: str | None) -> DuplicateMatch | None:
    """The team's lead with this email or phone (the oldest; email first), or None."""
    by_email, by_phone = contact_matches(emails=[email or ""], phones=[phone or ""])
    lead = by_email.get(email_key(email)) or by_phone.get(phone or "")
    if lead is None:
        return None
    fields = matched_fields(lead, email=email, phone=phone, by_email=by_email, by_phone=by_phone)
    return DuplicateMatch(lead.pk, lead.public_id, visible_to(actor, [lead.pk]) == {lead.pk}, fields)


def matched_fields(
    lead: Lead, *, email: str | None, phone: str | None, by_email: dict[str, Lead], by_phone: dict[str, Lead]
) -> dict[str, list[str]]:
    """The error messages for the fields on which the new lead matches ``lead``."""
    matches = {
        EMAIL_FIELD: by_email.get(email_key(email)) if email else None,
        PHONE_FIELD: by_phone.get(phone) if phone else None,
    }
    return {name: [_MESSAGES[name]] for name, match in matches.items() if match is not None and match.pk == lead.pk}


def visible_to(actor: User, lead_pks: Iterable[int]) -> set[int]:
    """Which of these leads ``actor`` may see (one query)."""
    lead_pks = set(lead_pks)
    if not lead_pks:
        return set()
    return set(visible_leads(actor).filter(pk__in=lead_pks).values_list("pk", flat=True))


def lock_contact_keys(*, emails: Iterable[str], phones: Iterable[str]) -> None:
    """Serialise creates of the same email or phone until the transaction ends.

    Without it two concurrent creates of one person would both find no duplicate
    and both insert. PostgreSQL: transaction-level advisory locks, taken in a fixed
    order so two batches cannot deadlock. SQLite needs nothing: its write
    transactions are IMMEDIATE (settings), so writers are already one at a time.
    """
    if connection.vendor != "postgresql":
        return
    keys = {_lock_key(f"email:{email_key(email)}") for email in emails if email}
    keys |= {_lock_key(f"phone:{phone}") for phone in phones if phone}
    if not keys:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(key) FROM (SELECT unnest(%s::bigint[]) AS key ORDER BY 1) AS ordered",
            [sorted(keys)],
        )


def _lock_key(value: str) -> int:
    """A signed 64-bit advisory lock key for a contact value."""
    digest = hashlib.sha256(f"leads.contact:{value}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def inquiry_note(data: dict[str, Any]) -> dict[str, Any]:
    """A new lead's values (validated, as for ``create_lead``) as the inbound note
    that attaches its inquiry to the existing lead."""
    source = data.get("source") or LeadSource.OTHER
    contact = data.get("contact") or {}
    preferences = data.get("preferences") or {}
    timeline = data.get("timeline") or {}
    prices = [preferences.get("min_price"), preferences.get("max_price")]
    lines = [
        ("Name", f"{contact.get('first_name', '')} {contact.get('last_name') or ''}".strip()),
        ("Email", contact.get("email")),
        ("Phone", contact.get("phone")),
        ("Lead type", LeadType(data["lead_type"]).label if data.get("lead_type") else None),
        ("Budget", " to ".join(f"${price:,.0f}" if price is not None else "any" for price in prices)),
        ("Property types", ", ".join(PropertyType(value).label for value in preferences.get("property_types") or [])),
        ("Locations", ", ".join(preferences.get("preferred_locations") or [])),
        ("Urgency", timeline.get("urgency_level")),
        ("Financing", timeline.get("financing_status")),
        ("Move date", timeline.get("target_move_date")),
        ("Tags", ", ".join(data.get("tags") or [])),
        *sorted((data.get("custom_fields") or {}).items()),
    ]
    notes = "\n".join(f"{label}: {value}" for label, value in lines if value not in (None, "", "any to any"))
    return {
        "type": InteractionType.NOTE,
        "direction": InteractionDirection.INBOUND,
        "summary": f"New inquiry via {LeadSource(source).label}",
        "notes": notes,
    }
