"""The OpenAPI 3.1 description of API v2 (drf-spectacular), served at /api/v2/schema.

The bodies are the shapes declared beside the functions that build them
(``leads.core.shapes``; in ``leads.core.representations``, ``leads.api.bodies``,
``leads.api.envelope`` and ``integrations.webhooks.representations``): this module
wraps them in the envelope and documents the operations, parameters and headers.
Every documented response object is closed (``additionalProperties: false``, see
``close_response_objects``): ``leads/tests/test_shapes.py`` checks each renderer
against its shape, ``leads/tests/test_api_schema.py`` real responses against the
schema.

One decorator documents an operation: its success bodies, its errors in the one error
shape, its parameters and headers::

    @api_operation(
        operation_id="leads_archive",
        summary="Archive a lead",
        responses={204: None},
        errors=(403, 404, 412),
        parameters=[LEAD_ID, IF_MATCH],
    )
    def delete(self, request, lead_id): ...

Authentication (401), the rate limit (429 and the X-RateLimit-* headers) and, for a
request body, 400/413/415 are added by the decorator; ``idempotent=True`` adds the
Idempotency-Key header and its 409/422.
"""

import copy
from collections.abc import Iterable, Sequence
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers

from leads.api.bodies import BatchResultBodyShape, HistoryPageBodyShape, LeadPageBodyShape
from leads.api.envelope import ErrorShape, envelope_shape
from leads.core.filters import LeadFilter
from leads.core.inputs import LeadInput
from leads.core.representations import InteractionShape, LeadShape, MergeShape
from leads.models import LeadSource, LeadStatus, LeadType, UrgencyLevel

# --- authentication and input fields ------------------------------------------


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "leads.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token: `Authorization: Bearer <token>` (`manage.py api_token <username>`).",
        }


class MoneyFieldSchema(OpenApiSerializerFieldExtension):
    """Amounts are sent and shown as JSON numbers (a numeric string is accepted too)."""

    target_class = "leads.core.inputs.Money"

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "number", "minimum": 0, "maximum": 999_999_999_999.99}


class DateOrDateTimeSchema(OpenApiSerializerFieldExtension):
    target_class = "leads.core.inputs.DateOrDateTime"

    def map_serializer_field(self, auto_schema, direction):
        return {
            "type": "string",
            "format": "date",
            "description": "YYYY-MM-DD; an ISO 8601 date-time is accepted and its date kept.",
        }


class AssigneeFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "leads.core.inputs.AssigneeField"

    def map_serializer_field(self, auto_schema, direction):
        return {
            "oneOf": [{"type": "string", "maxLength": 150}, {"type": "integer"}],
            "description": "The username or id of an active user; null unassigns.",
        }


# --- the answers: envelopes around the shapes of leads.core.representations and leads.api.bodies

LeadEnvelope = envelope_shape("LeadEnvelope", lead=LeadShape())
LeadPage = envelope_shape("LeadPage", LeadPageBodyShape)
InteractionList = envelope_shape("InteractionList", interactions=InteractionShape(many=True))
AttachedLeadEnvelope = envelope_shape(
    "AttachedLeadEnvelope",
    lead=LeadShape(allow_null=True, help_text="The existing lead, now with the inquiry; null if you may not read it."),
    attached_to=serializers.CharField(help_text="Id of the existing lead the inquiry was attached to."),
)
BatchResult = envelope_shape("BatchResult", BatchResultBodyShape)
HistoryPage = envelope_shape("HistoryPage", HistoryPageBodyShape)
MergeEnvelope = envelope_shape(
    "MergeEnvelope", merge=MergeShape(), lead=LeadShape(help_text="The primary lead after the merge.")
)
MergeDetail = envelope_shape("MergeDetail", merge=MergeShape())
MergeUndone = envelope_shape("MergeUndone", merge=MergeShape(), primary=LeadShape(), duplicate=LeadShape())


class BatchRequest(serializers.Serializer):
    """Up to 500 leads, each as in a single create; each is validated and created on its own."""

    leads = serializers.ListField(child=LeadInput(), min_length=1, max_length=500)


ERROR_DESCRIPTIONS = {
    400: "Invalid input: `validation_error` (with `fields`), `malformed_json` or `bad_request`.",
    401: "No credentials (`not_authenticated`) or an unknown token (`authentication_failed`).",
    403: "`permission_denied`: the user may not do this (a session write also needs the CSRF token).",
    404: "`not_found`: no such object, or one this user may not see.",
    409: "The request conflicts with the current state: `conflict`, `duplicate_lead` (with `existing_lead_id`), "
    "or `idempotency_key_in_progress` (the first request with this Idempotency-Key still runs; see Retry-After).",
    412: "`precondition_failed`: the lead changed since the `If-Match` version was read.",
    413: "`payload_too_large`: the body is larger than the server accepts.",
    415: "`unsupported_media_type`: send the body as `application/json`.",
    422: "`idempotency_key_reused`: this Idempotency-Key was sent before with a different request.",
    429: "`rate_limited`: too many requests; retry after `Retry-After` seconds.",
}

WWW_AUTHENTICATE = OpenApiParameter(
    "WWW-Authenticate", str, OpenApiParameter.HEADER, required=True, response=[401], description="`Bearer`."
)


def error_response(status_code: int) -> OpenApiResponse:
    return OpenApiResponse(ErrorShape, description=ERROR_DESCRIPTIONS[status_code])


# --- parameters and headers ---------------------------------------------------------


def etag_header(*statuses: int, required: bool = True) -> OpenApiParameter:
    return OpenApiParameter(
        "ETag",
        str,
        OpenApiParameter.HEADER,
        required=required,
        response=list(statuses),
        description='The lead\'s version, e.g. `"3"`: send it back in `If-Match` to update only that version.',
    )


ETAG = etag_header(200, 201)
LOCATION = OpenApiParameter(
    "Location",
    OpenApiTypes.URI,
    OpenApiParameter.HEADER,
    required=True,
    response=[201],
    description="URL of the new lead.",
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    description='Update only if the lead is still at this version (its ETag, e.g. `"3"`); else 412. `*` or '
    "absent: no check.",
)
PAGE_PARAMETERS = [
    OpenApiParameter("page", {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 1}),
    OpenApiParameter("page_size", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}),
]
ON_DUPLICATE = OpenApiParameter(
    "on_duplicate",
    {"type": "string", "enum": ["reject", "attach"], "default": "reject"},
    description="When the email or phone matches a lead the team has: `reject` (409 `duplicate_lead`) or "
    "`attach` (the inquiry is logged on the existing lead: 200). Also accepted as a body key.",
)
MERGE_ID = OpenApiParameter("merge_id", str, OpenApiParameter.PATH, description="The merge's id.")
FORCE = OpenApiParameter(
    "force",
    bool,
    description="Undo even though a lead changed after the merge (those later changes are lost).",
)
LEAD_ID = OpenApiParameter("lead_id", str, OpenApiParameter.PATH, description="The lead's public id, `lead_<opaque>`.")


def _multi(name: str, choices, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        {"type": "array", "items": {"type": "string", "enum": [value for value, _ in choices]}},
        style="form",
        explode=True,
        description=f"{description} Repeat the parameter or separate values with commas.",
    )


LEAD_LIST_PARAMETERS = [
    *PAGE_PARAMETERS,
    OpenApiParameter(
        "cursor",
        {"type": "string", "maxLength": 200},
        description="The `next_cursor` of the previous page: walks every lead newest first, as fast at the "
        "millionth lead as at the first (page numbers slow down with depth). Not with `page`, nor with an "
        "`ordering` other than `-created_at`; the filters still apply.",
    ),
    _multi("status", LeadStatus.choices, "Any of these statuses."),
    _multi("lead_type", LeadType.choices, "Any of these lead types."),
    _multi("source", LeadSource.choices, "Any of these sources."),
    _multi("urgency", UrgencyLevel.choices, "Any of these urgency levels."),
    OpenApiParameter(
        "assigned_to",
        {"type": "string", "maxLength": 150},
        description="A username or user id, `me`, or `none` / `unassigned`.",
    ),
    OpenApiParameter("location", {"type": "string", "maxLength": 100}, description="Part of a preferred location."),
    OpenApiParameter("score_min", {"type": "number", "minimum": 0, "maximum": 100}),
    OpenApiParameter("score_max", {"type": "number", "minimum": 0, "maximum": 100}),
    OpenApiParameter("created_after", OpenApiTypes.DATETIME, description="Created at or after (ISO 8601)."),
    OpenApiParameter("created_before", OpenApiTypes.DATETIME, description="Created before (ISO 8601)."),
    OpenApiParameter(
        "search",
        {"type": "string", "maxLength": 200},
        description="Words matched in names and email; 3+ digits also match the phone.",
    ),
    OpenApiParameter(
        "ordering",
        {"type": "string", "enum": LeadFilter.base_filters["ordering"].sort_keys},
        description="Sort key; a leading `-` sorts descending. Default: newest first.",
    ),
]

# Every answer of the API (leads.api.ratelimit): the caller's budget in the current window.
RATE_LIMIT_HEADERS = [
    OpenApiParameter(
        "X-RateLimit-Limit",
        int,
        OpenApiParameter.HEADER,
        response=True,
        description="Requests allowed per window (API_RATE_LIMIT, per token; per address without one).",
    ),
    OpenApiParameter(
        "X-RateLimit-Remaining", int, OpenApiParameter.HEADER, response=True, description="Requests left."
    ),
    OpenApiParameter(
        "X-RateLimit-Reset", int, OpenApiParameter.HEADER, response=True, description="Seconds until the window ends."
    ),
    OpenApiParameter(
        "Retry-After", int, OpenApiParameter.HEADER, required=True, response=[429], description="Seconds to wait."
    ),
]

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
    OpenApiParameter.HEADER,
    description="Any unique string (a UUID): a retry with the same key and body returns the first answer and "
    "changes nothing. Kept for IDEMPOTENCY_KEY_TTL_HOURS; the same key with another body is a 422.",
)
IDEMPOTENCY_HEADERS = [
    IDEMPOTENCY_KEY,
    OpenApiParameter(
        "Idempotent-Replayed",
        {"type": "string", "enum": ["true"]},
        OpenApiParameter.HEADER,
        response=[200, 201],
        description="Present on a replayed answer to a retry.",
    ),
    OpenApiParameter(
        "Retry-After",
        int,
        OpenApiParameter.HEADER,
        response=[409],
        description="With `idempotency_key_in_progress`: seconds before the retry.",
    ),
]

# --- the decorator ------------------------------------------------------------------

SUCCESS = {200: "OK.", 201: "Created.", 202: "Accepted.", 204: "Done; no body."}

# Input may be refused for its content, its size or its media type.
BODY_ERRORS = (400, 413, 415)


def api_operation(
    *,
    operation_id: str,
    summary: str,
    responses: dict[int, Any],
    errors: Iterable[int] = (),
    request: Any = None,
    parameters: Sequence[OpenApiParameter] = (),
    description: str = "",
    authenticated: bool = True,
    idempotent: bool = False,
):
    """``extend_schema`` for one v2 operation.

    ``responses`` maps success statuses to documentation serializers (``None`` for no
    body); ``errors`` lists the error statuses the operation can answer, each in the
    error shape. A request body adds 400/413/415; authentication adds 401, the rate
    limit (429) and its headers; ``idempotent`` the Idempotency-Key header, 409 and 422.
    """
    error_statuses = set(errors)
    headers: list[OpenApiParameter] = []
    if request is not None:
        error_statuses.update(BODY_ERRORS)
    if authenticated:
        error_statuses.update({401, 429})
        headers += [WWW_AUTHENTICATE, *RATE_LIMIT_HEADERS]
    if idempotent:
        error_statuses.update({400, 409, 422})
        headers += IDEMPOTENCY_HEADERS
    documented: dict[int, Any] = {
        status_code: body if isinstance(body, OpenApiResponse) else OpenApiResponse(body, SUCCESS[status_code])
        for status_code, body in responses.items()
    }
    documented.update({status_code: error_response(status_code) for status_code in sorted(error_statuses)})
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        description=description or summary + ".",
        request=request,
        responses=documented,
        parameters=[*parameters, *headers],
    )


# --- pre- and postprocessing ---------------------------------------------------------


def canonical_paths(endpoints: list, **kwargs) -> list:
    """drf-spectacular hook: document ``/api/v2/leads``, not the ``/api/v2/leads/`` that
    the URL patterns' optional trailing slash (``/?$``) turns into."""
    return [
        (path.rstrip("/") if path != "/" else path, path_regex, method, callback)
        for path, path_regex, method, callback in endpoints
    ]


def partial_nested_requests(result: dict, generator, request, public) -> dict:
    """drf-spectacular hook: in a partial update (``Patched...`` request bodies) nested
    objects are partial too, as DRF validates them: ``{"contact": {"email": ...}}``
    needs no ``first_name``. drf-spectacular makes only the top level optional."""
    components = result.get("components", {}).get("schemas", {})

    def patched(name: str) -> str:
        patched_name = name if name.startswith("Patched") else f"Patched{name}"
        if patched_name not in components:
            schema = copy.deepcopy(components[name])
            schema.pop("required", None)
            components[patched_name] = schema
            relink(schema)
        return patched_name

    def relink(schema: Any) -> None:
        if not isinstance(schema, dict):
            return
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            if "properties" in components.get(name, {}):
                schema["$ref"] = f"#/components/schemas/{patched(name)}"
            return
        for child in schema.get("properties", {}).values():
            relink(child)
        for key in ("items", "additionalProperties"):
            relink(schema.get(key))
        for key in ("allOf", "oneOf", "anyOf"):
            for child in schema.get(key, []):
                relink(child)

    for name in [name for name in components if name.startswith("Patched")]:
        relink(components[name])
    if components:
        result["components"]["schemas"] = dict(sorted(components.items()))
    return result


def close_response_objects(result: dict, generator, request, public) -> dict:
    """drf-spectacular hook: response objects with declared properties allow no others.

    Applies to every schema reachable from a response; request bodies stay open
    (the API ignores keys it does not know). Free-form objects (no ``properties``)
    and objects that declare ``additionalProperties`` themselves are left as they are.
    """
    components = result.get("components", {}).get("schemas", {})
    seen: set[str] = set()

    def close(schema: Any) -> None:
        if not isinstance(schema, dict):
            return
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            if name not in seen and name in components:
                seen.add(name)
                close(components[name])
            return
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        for child in schema.get("properties", {}).values():
            close(child)
        for key in ("items", "additionalProperties"):
            close(schema.get(key))
        for key in ("allOf", "oneOf", "anyOf"):
            for child in schema.get(key, []):
                close(child)

    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict):
                for response in operation.get("responses", {}).values():
                    for media in response.get("content", {}).values():
                        close(media.get("schema"))
    return result
