"""Output: a lead, an interaction, an audit entry and a merge as the v2 contract shows
them, to the API, the webhooks and the CRM pushes alike.

Each object is declared once as a shape (``leads.core.shapes``: the OpenAPI component and
the contract) right above the plain function that builds it: a dict built directly
is several times cheaper than a DRF serializer, and the list renders up to 100
leads per request. ``@renders`` ties the two, and ``leads/tests/test_shapes.py``
fails when a key is added to only one of them.
"""

from datetime import UTC, datetime, time
from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from leads import ports
from leads.core.shapes import Shape, choice, datetime_field, renders, text
from leads.models import (
    AuditChannel,
    AuditEntry,
    ContactChannel,
    FinancingStatus,
    Interaction,
    InteractionDirection,
    InteractionType,
    Lead,
    LeadMerge,
    LeadSource,
    LeadStatus,
    LeadType,
    ProcessingStatus,
    PropertyType,
    SlaStatus,
    UrgencyLevel,
)

_PROPERTY_TYPE_LABELS = dict(PropertyType.choices)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a 'Z', as the contract says."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def number(value: Decimal | None) -> float | int | None:
    """A decimal as a JSON number: an int when it is whole."""
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


# --- interaction ------------------------------------------------------------------


class InteractionShape(Shape):
    id = serializers.IntegerField()
    type = choice(InteractionType.choices)
    direction = choice(InteractionDirection.choices)
    summary = text()
    notes = text()
    next_steps = text()
    next_follow_up = datetime_field(allow_null=True)
    timestamp = datetime_field(help_text="When it happened (ISO 8601, UTC, Z).")
    created_by = text(allow_null=True, help_text="Username of the author.")
    created_at = datetime_field()


@renders(InteractionShape)
def interaction_data(interaction: Interaction) -> dict:
    """The interaction; expects its author selected with it."""
    author = interaction.created_by
    return {
        "id": interaction.pk,
        "type": interaction.type,
        "direction": interaction.direction,
        "summary": interaction.summary,
        "notes": interaction.notes,
        "next_steps": interaction.next_steps,
        "next_follow_up": iso(interaction.follow_up_due_at),
        "timestamp": iso(interaction.occurred_at),
        "created_by": author.username if author else None,
        "created_at": iso(interaction.created_at),
    }


# --- audit entry ------------------------------------------------------------------


class AuditEntryShape(Shape):
    id = serializers.IntegerField()
    changeset = serializers.UUIDField(help_text="Entries changed together share it.")
    field = serializers.CharField(help_text="Dotted path, e.g. `contact.email`, or an event.")
    old_value = serializers.JSONField(help_text="Any JSON value; null when the field was empty or new.")
    new_value = serializers.JSONField(help_text="Any JSON value.")
    actor = serializers.CharField(allow_null=True, help_text="Username; null for the system.")
    channel = choice(AuditChannel.choices)
    request_id = serializers.CharField(allow_null=True, help_text="The caller's X-Request-ID, when it sent one.")
    at = datetime_field()


@renders(AuditEntryShape)
def audit_entry_data(entry: AuditEntry) -> dict:
    """One change in a lead's history; expects the actor selected with the entry."""
    return {
        "id": entry.pk,
        "changeset": str(entry.changeset),
        "field": entry.field,
        "old_value": entry.old_value,
        "new_value": entry.new_value,
        "actor": entry.actor.username if entry.actor_id else None,
        "channel": entry.channel,
        "request_id": entry.request_id or None,
        "at": iso(entry.at),
    }


# --- merge ------------------------------------------------------------------------


class MergeShape(Shape):
    id = serializers.CharField()
    primary_id = serializers.CharField(help_text="The lead that was kept.")
    duplicate_id = serializers.CharField(help_text="The lead merged into it (archived).")
    prefer = serializers.DictField(child=choice(["primary", "duplicate"]))
    taken_from_duplicate = serializers.ListField(child=serializers.CharField(), help_text="Fields whose value won.")
    moved = serializers.DictField(child=serializers.IntegerField(min_value=0), help_text="Rows moved, by kind.")
    merged_by = serializers.CharField(allow_null=True)
    merged_at = datetime_field()
    undone_by = serializers.CharField(allow_null=True)
    undone_at = datetime_field(allow_null=True)


@renders(MergeShape)
def merge_data(merge: LeadMerge) -> dict:
    """A merge; expects its leads and users selected with it."""
    snapshot = merge.snapshot
    return {
        "id": merge.public_id,
        "primary_id": merge.primary.public_id,
        "duplicate_id": merge.duplicate.public_id,
        "prefer": merge.prefer,
        "taken_from_duplicate": snapshot.get("taken_from_duplicate", []),
        "moved": {kind: len(rows) for kind, rows in snapshot.get("moved", {}).items()},
        "merged_by": merge.merged_by.username if merge.merged_by_id else None,
        "merged_at": iso(merge.merged_at),
        "undone_by": merge.undone_by.username if merge.undone_by_id else None,
        "undone_at": iso(merge.undone_at),
    }


# --- lead -------------------------------------------------------------------------


class LeadContactShape(Shape):
    first_name = text()
    last_name = text()
    email = text(allow_null=True)
    phone = text(allow_null=True, help_text="E.164 where the number parses.")
    phone_is_valid = serializers.BooleanField(
        allow_null=True, help_text="False when the number does not exist in its region's plan; null without a phone."
    )
    preferred_contact_method = choice(ContactChannel.choices)
    best_time_to_contact = text(allow_null=True)
    preferred_language = text(allow_null=True, help_text='A short language code ("en", "es"); null when not known.')
    email_opt_out = serializers.BooleanField()
    sms_opt_out = serializers.BooleanField()
    call_opt_out = serializers.BooleanField()


class ScoreFactorShape(Shape):  # one line of score_breakdown, as integrations.scoring writes it
    factor = text()
    axis = text(help_text="`fit` or `engagement`.")
    points = serializers.FloatField()
    max_points = serializers.FloatField()
    reason = text()


class WinFactorShape(Shape):  # one top factor of the chance to close, as integrations.winprob writes it
    feature = text(help_text="What the factor is about (`financing`, `replies`...).")
    points = serializers.FloatField(help_text="Percentage points it adds to (or takes from) the chance.")
    text = text(help_text='In plain words, e.g. "+12 pts: pre-approved".')


class LeadPreferencesShape(Shape):
    property_types = serializers.ListField(child=choice(PropertyType.choices))
    property_type = serializers.ListField(child=text(), help_text="The property types' labels (seed field).")
    min_price = serializers.FloatField(allow_null=True)
    max_price = serializers.FloatField(allow_null=True)
    preferred_locations = serializers.ListField(child=text())
    min_bedrooms = serializers.IntegerField(allow_null=True)
    min_bathrooms = serializers.FloatField(allow_null=True)
    min_square_feet = serializers.IntegerField(allow_null=True)
    must_have_features = serializers.ListField(child=text())
    nice_to_have_features = serializers.ListField(child=text())


class LeadTimelineShape(Shape):
    urgency_level = choice(UrgencyLevel.choices)
    financing_status = choice(FinancingStatus.choices)
    target_move_date = serializers.DateField(allow_null=True)
    desired_move_in_date = datetime_field(allow_null=True)
    pre_approval_amount = serializers.FloatField(allow_null=True)


class LeadProcessingShape(Shape):
    status = choice(ProcessingStatus.choices)
    processed_version = serializers.IntegerField(min_value=0)
    error = text(allow_null=True)


class LeadSlaShape(Shape):
    first_contact_due_at = datetime_field(allow_null=True)
    status = choice(SlaStatus.choices)


@extend_schema_field(
    {
        "type": "object",
        "properties": {
            "market_analysis": {"type": "object", "additionalProperties": True},
            "lead_insights": {"type": "object", "additionalProperties": True},
        },
        "required": ["market_analysis", "lead_insights"],
        "additionalProperties": {"type": "string"},
        "description": "The after-save analysis, plus the integration's own string values (request `metadata`).",
    }
)
class LeadMetadataField(serializers.DictField):
    pass


class LeadShape(Shape):
    id = serializers.CharField(help_text="Public id, `lead_<opaque>`.")
    contact = LeadContactShape()
    lead_type = choice(LeadType.choices)
    source = choice(LeadSource.choices)
    status = choice(LeadStatus.choices)
    assigned_to = text(allow_null=True, help_text="Username of the assigned agent.")
    score = serializers.IntegerField(min_value=0, max_value=100, allow_null=True)
    score_breakdown = ScoreFactorShape(many=True)
    win_probability = serializers.FloatField(
        allow_null=True,
        min_value=0,
        max_value=100,
        help_text="Chance (percent) that the lead reaches closed within 180 days, from the team's model; "
        "null with `win_probability_reason` when there is none.",
    )
    win_probability_reason = text(allow_null=True, help_text="Why there is no chance to close, else null.")
    win_factors = WinFactorShape(many=True)
    win_model_version = serializers.IntegerField(allow_null=True, help_text="The model that computed the chance.")
    preferences = LeadPreferencesShape()
    timeline = LeadTimelineShape()
    interactions = InteractionShape(many=True)
    tags = serializers.ListField(child=text())
    version = serializers.IntegerField(min_value=1, help_text="Bumped by every change; the ETag.")
    processing = LeadProcessingShape(help_text="Where the after-save work (analysis, score) stands for this version.")
    sla = LeadSlaShape()
    first_contacted_at = datetime_field(allow_null=True)
    last_contacted_at = datetime_field(allow_null=True)
    created_at = datetime_field()
    updated_at = datetime_field()
    metadata = LeadMetadataField()


NO_WIN_PROBABILITY = {
    "win_probability": None,
    "win_probability_reason": "No chance-to-close model is installed.",
    "win_factors": [],
    "win_model_version": None,
}


@renders(LeadShape)
def lead_data(lead: Lead) -> dict:
    """The lead object of the contract; expects ``selectors.with_lead_details``."""
    contact, preferences, timeline = lead.contact, lead.preferences, lead.timeline
    move_date = timeline.target_move_date
    metadata = dict(lead.custom_fields)
    metadata.update(
        {
            "market_analysis": lead.metadata.get("market_analysis", {}),
            "lead_insights": lead.metadata.get("lead_insights", {}),
        }
    )
    return {
        "id": lead.public_id,
        "contact": {
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "email": contact.email or None,
            "phone": contact.phone or None,
            "phone_is_valid": contact.phone_is_valid if contact.phone else None,
            "preferred_contact_method": contact.preferred_contact_method,
            "best_time_to_contact": contact.best_time_to_contact or None,
            "preferred_language": contact.preferred_language or None,
            "email_opt_out": contact.email_opt_out,
            "sms_opt_out": contact.sms_opt_out,
            "call_opt_out": contact.call_opt_out,
        },
        "lead_type": lead.lead_type,
        "source": lead.source,
        "status": lead.status,
        "assigned_to": lead.assigned_to.username if lead.assigned_to_id else None,
        "score": lead.score,
        "score_breakdown": lead.score_breakdown,
        **(ports.lead_fields("win_probability", lead) or NO_WIN_PROBABILITY),
        "preferences": {
            "property_types": preferences.property_types,
            "property_type": [_PROPERTY_TYPE_LABELS.get(value, value) for value in preferences.property_types],
            "min_price": number(preferences.min_price),
            "max_price": number(preferences.max_price),
            "preferred_locations": preferences.preferred_locations,
            "min_bedrooms": preferences.min_bedrooms,
            "min_bathrooms": number(preferences.min_bathrooms),
            "min_square_feet": preferences.min_square_feet,
            "must_have_features": preferences.must_have_features,
            "nice_to_have_features": preferences.nice_to_have_features,
        },
        "timeline": {
            "urgency_level": timeline.urgency_level,
            "financing_status": timeline.financing_status,
            "target_move_date": move_date.isoformat() if move_date else None,
            "desired_move_in_date": iso(datetime.combine(move_date, time(), UTC)) if move_date else None,
            "pre_approval_amount": number(timeline.pre_approval_amount),
        },
        "interactions": [interaction_data(interaction) for interaction in lead.interactions.all()],
        "tags": lead.tags,
        "version": lead.version,
        # Where the after-save work (analysis, score) stands for this version.
        "processing": {
            "status": lead.processing_status,
            "processed_version": lead.processed_version,
            "error": lead.processing_error or None,
        },
        "sla": {"first_contact_due_at": iso(lead.sla_due_at), "status": lead.sla_status},
        "first_contacted_at": iso(lead.first_contacted_at),
        "last_contacted_at": iso(lead.last_contacted_at),
        "created_at": iso(lead.created_at),
        "updated_at": iso(lead.updated_at),
        "metadata": metadata,
    }
