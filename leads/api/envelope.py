"""The v2 envelope: every response carries ``metadata`` and ``processing_time``; an
error is ``{"error": {"code", "message", "fields"?}}`` inside it. Both shapes are
declared here (``leads.core.shapes``) beside the functions that build them."""

import time

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from leads.core.shapes import Shape, renders

API_METADATA = {"source": "crm", "version": "2.0"}


@extend_schema_field(
    {
        "type": "object",
        "properties": {key: {"type": "string", "enum": [value]} for key, value in API_METADATA.items()},
        "required": list(API_METADATA),
        "additionalProperties": False,
    }
)
class ApiMetadataField(serializers.DictField):
    """The same on every response: ``API_METADATA``."""


def envelope_shape(name: str, body: type[Shape] = Shape, **fields: serializers.Field) -> type[Shape]:
    """The shape ``name``: the keys of ``body`` and ``fields``, then ``metadata`` and ``processing_time``."""
    return type(
        name,
        (body,),
        {
            **fields,
            "metadata": ApiMetadataField(),
            "processing_time": serializers.FloatField(
                min_value=0, help_text="Seconds the server spent on this request, measured by the server."
            ),
        },
    )


def mark_request_start(request) -> None:
    if not hasattr(request, "_leads_started_at"):
        request._leads_started_at = time.perf_counter()


def processing_time(request) -> float:
    started = getattr(request, "_leads_started_at", None)
    if started is None:
        return 0.0
    return round(time.perf_counter() - started, 6)


def envelope(request, **body) -> dict:
    return {**body, "metadata": dict(API_METADATA), "processing_time": processing_time(request)}


# --- the error shape --------------------------------------------------------------


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
        "description": 'Messages by field path, e.g. {"contact.email": ["Enter a valid email address."]}.',
    }
)
class FieldErrorsField(serializers.DictField):
    pass


class ErrorDetailShape(Shape):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. `validation_error`, `not_found`.")
    message = serializers.CharField(help_text="A sentence for a person.")
    fields = FieldErrorsField(
        required=False, help_text="On validation errors, and on a duplicate: the matching fields."
    )
    existing_lead_id = serializers.CharField(
        required=False, help_text="On `duplicate_lead` (409): the lead it matches."
    )
    existing_lead_visible = serializers.BooleanField(
        required=False, help_text="On `duplicate_lead`: whether you may read that lead."
    )


ErrorShape = envelope_shape("Error", error=ErrorDetailShape())


@renders(ErrorShape)
def error_body(request, *, code: str, message: str, fields: dict | None = None, details: dict | None = None) -> dict:
    """The error object in the envelope; ``details`` are error-specific keys beside code
    and message (e.g. ``existing_lead_id`` of a duplicate_lead)."""
    error = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    if details:
        error.update(details)
    return envelope(request, error=error)
