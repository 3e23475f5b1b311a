"""Keyset ("cursor") pagination over the list order, newest first.

A cursor names the last lead of the page already read by its (created_at, id); the
next page is the leads strictly after it in ``-created_at, -id`` order, read from the
index of live leads in that order, so page 50,000 costs what page 1 costs (OFFSET
reads and throws away every row before the page). The cursor is opaque to clients:
base64 of "v1:<created_at in microseconds since the epoch>:<id>".

Hand-written rather than DRF's ``CursorPagination``: it must follow the list's own
filters and visibility through ``LeadManagementService.list_leads`` (not a view's
queryset), keep the v2 envelope, and break ties on the id; the bench shows a page as
deep as page 500, and the last page of a million leads, costing what page 1 costs.
"""

import base64
import binascii
from datetime import UTC, datetime, timedelta

from django.db.models import Q, QuerySet

from leads.errors import ValidationFailed
from leads.models import Lead

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PREFIX = "v1"

# Orderings a cursor can follow: the default one (also spelled out).
CURSOR_ORDERINGS = frozenset({"", "-created_at"})


def encode_cursor(lead: Lead) -> str:
    micros = (lead.created_at - _EPOCH) // timedelta(microseconds=1)
    return base64.urlsafe_b64encode(f"{_PREFIX}:{micros}:{lead.pk}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """(created_at, id) of the cursor; ValidationFailed on anything we did not issue."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        prefix, micros, pk = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii").split(":")
        if prefix != _PREFIX or not micros.lstrip("-").isdigit() or not pk.isdigit():
            raise ValueError
        created_at = _EPOCH + timedelta(microseconds=int(micros))
        lead_id = int(pk)
        if lead_id >= 2**63:
            raise ValueError
    except (ValueError, UnicodeError, binascii.Error, OverflowError):
        raise ValidationFailed(
            "The cursor is not valid.",
            fields={"cursor": ["Not a cursor from this API: pass the next_cursor of a previous page."]},
        ) from None
    return created_at, lead_id


def after_cursor(leads: QuerySet[Lead], cursor: str) -> QuerySet[Lead]:
    """The leads after the cursor, in cursor order."""
    created_at, lead_id = decode_cursor(cursor)
    # created_at <= c is the index range; the OR breaks ties on the same instant.
    return leads.filter(Q(created_at__lt=created_at) | Q(id__lt=lead_id), created_at__lte=created_at).order_by(
        "-created_at", "-id"
    )
