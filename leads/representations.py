"""Output: a lead as the v2 contract shows it.

Plain functions rather than DRF serializers: the list endpoint renders up to 100
leads per request, and building dicts directly is several times cheaper.
"""

from datetime import UTC, datetime, time
from decimal import Decimal

from leads.models import AuditEntry, Interaction, Lead, LeadMerge, PropertyType

_PROPERTY_TYPE_LABELS = dict(PropertyType.choices)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a 'Z', as the contract says."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def number(value: Decimal | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def interaction_data(interaction: Interaction) -> dict:
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
