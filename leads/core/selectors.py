"""Reads. Every lead lookup starts from the leads the user may see."""

import re

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Prefetch, QuerySet

from leads import ports
from leads.accounts import permissions
from leads.errors import NotFound
from leads.models import Interaction, Lead, User

# Public ids are 'lead_' and 24 hex characters (models.new_public_lead_id), at most
# 40 in all. A value outside this looser shape cannot exist and is answered without
# a query (PostgreSQL errors on a NUL in a parameter).
_LEAD_ID_SHAPE = re.compile(r"lead_[0-9A-Za-z]{1,35}")


def is_lead_id(value: object) -> bool:
    return isinstance(value, str) and _LEAD_ID_SHAPE.fullmatch(value) is not None


def visible_leads(user: User, *, include_archived: bool = False) -> QuerySet[Lead]:
    """The leads ``user`` may see (``permissions.visible_lead_filter``: all for managers
    and admins, their own for agents, none for a signed-out or deactivated user).

    Archived leads are left out (they are gone for the API and the pages); the
    admin passes ``include_archived=True`` to list and restore them.
    """
    leads = Lead.objects.all() if include_archived else Lead.objects.filter(archived_at__isnull=True)
    condition = permissions.visible_lead_filter(user)
    return leads.none() if condition is None else leads.filter(condition)


def with_lead_details(leads: QuerySet[Lead]) -> QuerySet[Lead]:
    """Everything a lead representation shows, in a fixed number of queries."""
    return leads.select_related(
        "contact", "preferences", "timeline", "assigned_to", *ports.lead_detail_relations()
    ).prefetch_related(Prefetch("interactions", queryset=Interaction.objects.select_related("created_by")))


def lead_get(*, user: User, lead_id: str) -> Lead:
    """The visible lead with this public id; NotFound when it is missing or hidden."""
    if not is_lead_id(lead_id):
        raise NotFound("Lead not found.")
    try:
        return with_lead_details(visible_leads(user)).get(public_id=lead_id)
    except Lead.DoesNotExist:
        raise NotFound("Lead not found.") from None


# The lead-row columns a lead's representation depends on besides ``version``: the
# writers that do not bump the version change at least one of them (the pipeline:
# processing_*, processed_version; rescoring: score, score_breakdown; workflows:
# sla_*). Every other change goes through LeadManagementService and bumps ``version``.
# Integrations that fill lead fields add their own (``ports.lead_stamp_fields``).
CACHE_STAMP_FIELDS = (
    "version",
    "processed_version",
    "processing_status",
    "processing_error",
    "score",
    "score_breakdown",
    "sla_status",
    "sla_due_at",
    "updated_at",
)


def lead_cache_stamp(*, user: User, lead_id: str) -> tuple[int, tuple]:
    """(pk, stamp) of the visible lead: one query on the lead row alone, no joins.

    A cached representation is valid while the stamp is unchanged (``leads.api.lead_cache``).
    NotFound when the lead is missing, hidden or archived.
    """
    if not is_lead_id(lead_id):
        raise NotFound("Lead not found.")
    fields = (*CACHE_STAMP_FIELDS, *ports.lead_stamp_fields())
    row = visible_leads(user).filter(public_id=lead_id).values_list("pk", *fields).first()
    if row is None:
        raise NotFound("Lead not found.")
    return row[0], row[1:]


def lead_ensure_visible(*, user: User, lead_id: str) -> None:
    """NotFound unless ``user`` may see this lead; one cheap EXISTS query."""
    if not is_lead_id(lead_id) or not visible_leads(user).filter(public_id=lead_id).exists():
        raise NotFound("Lead not found.")


def agent_get(*, identifier: str | int) -> User | None:
    """An active user by username or numeric id, or None."""
    users = User.objects.filter(is_active=True)
    if isinstance(identifier, int) or (isinstance(identifier, str) and identifier.isascii() and identifier.isdigit()):
        pk = int(identifier)
        return users.filter(pk=pk).first() if 0 < pk < 2**63 else None
    if not isinstance(identifier, str) or not identifier.isprintable():
        return None  # control characters: no such username (and no NUL sent to PostgreSQL)
    return users.filter(username=identifier).first()


def lead_stamp(lead: Lead) -> tuple:
    """The stamp of a lead read with ``with_lead_details``, as ``lead_cache_stamp`` reads it."""
    return (*(getattr(lead, name) for name in CACHE_STAMP_FIELDS), *map(_follow(lead), ports.lead_stamp_fields()))


def _follow(lead: Lead):
    def value(lookup: str):
        target = lead
        for name in lookup.split("__"):
            try:
                target = getattr(target, name)
            except ObjectDoesNotExist:
                return None
            if target is None:
                return None
        return target

    return value
