"""REST API of web activity events (v2 envelope and error shape of the leads API):

- ``POST /api/v2/leads/{lead_id}/events``: one event (a JSON object) or a batch (a JSON
  array of up to 100) for a lead the caller may see;
- ``POST /api/v2/events``: the same, each event naming its lead by ``email`` and/or
  ``phone`` (an IDX website's API key): matched among the leads the key may see
  (``selectors.match_leads``: email before phone; open before closed or lost; then the
  most recently active);
- ``GET /api/v2/leads/{lead_id}/events``: the lead's events, newest first, paginated.

A batch is all or nothing: any invalid event is a 400 with every bad field named
``events[i].field`` (``field`` for a single object), any event without a lead a 404
(``events[i]``: "No lead with this email or phone."), and nothing is stored. 201 with
the stored events when at least one was new; 200 with the same body when every
``event_id`` had been sent before. Past ``WEB_EVENTS_RATE_LIMIT`` requests per
window from one key: 429 with Retry-After.
"""

from django.conf import settings
from django.urls import re_path
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated

from leads.api.envelope import envelope_shape
from leads.api.ratelimit import RateLimited
from leads.api.schema import LEAD_ID, PAGE_PARAMETERS, api_operation
from leads.api.views import LeadsAPIView
from leads.core.inputs import Text, flatten_errors
from leads.errors import NotFound, ValidationFailed
from leads.ratelimit import spend
from leads.webevents import selectors, services
from leads.webevents.inputs import WebEventInput
from leads.webevents.models import WebEvent

MAX_BATCH = 100
NO_LEAD = "No lead with this email or phone."


class WebEventShape(serializers.Serializer):
    id = serializers.IntegerField()
    event_id = serializers.CharField()
    lead_id = serializers.CharField()
    kind = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    received_at = serializers.DateTimeField()
    listing_ref = serializers.CharField()
    listing_url = serializers.CharField()
    page_url = serializers.CharField()
    search = serializers.JSONField(allow_null=True)
    source = serializers.CharField()
    data = serializers.JSONField()


class MatchedWebEventInput(WebEventInput):
    """An event naming its lead by email and/or phone."""

    email = Text(max_length=254, required=False, help_text="The lead's email (any case).")
    phone = Text(max_length=40, required=False, help_text="The lead's phone, in any format a lead's phone takes.")

    def validate(self, attrs):
        if not attrs.get("email") and not attrs.get("phone"):
            raise serializers.ValidationError({"email": ["Give the lead's email or phone."]})
        return super().validate(attrs)


def _iso(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


def web_event_data(event: WebEvent) -> dict:
    return {
        "id": event.pk,
        "event_id": event.event_id,
        "lead_id": event.lead.public_id,
        "kind": event.kind,
        "occurred_at": _iso(event.occurred_at),
        "received_at": _iso(event.received_at),
        "listing_ref": event.listing_ref,
        "listing_url": event.listing_url,
        "page_url": event.page_url,
        "search": event.search,
        "source": event.source,
        "data": event.data,
    }


WebEventList = envelope_shape("WebEventList", events=WebEventShape(many=True))
WebEventPage = envelope_shape(
    "WebEventPage",
    events=WebEventShape(many=True),
    total_count=serializers.IntegerField(),
    page=serializers.IntegerField(),
    page_size=serializers.IntegerField(),
)


class WebEventsAPIView(LeadsAPIView):
    permission_classes = [IsAuthenticated]
    input_class = WebEventInput

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method == "POST":
            # One key's flood is refused before it costs a query, on top of the API's budget.
            budget = spend(
                request, group="webevents", key=lambda _g, r: f"user:{r.user.pk}", rate=settings.WEB_EVENTS_RATE_LIMIT
            )
            if budget is not None and budget.exceeded:
                raise RateLimited(budget)

    def validated_events(self) -> tuple[list[dict], bool]:
        """Each event's values (a batch: every bad field of every event in one 400)."""
        body = self.request.data
        batch = isinstance(body, list)
        items = body if batch else [body]
        if not isinstance(body, (dict, list)) or not items:
            raise ValidationFailed(fields={"body": ["Send one event (a JSON object) or a list of them."]})
        if len(items) > MAX_BATCH:
            raise ValidationFailed(fields={"body": [f"At most {MAX_BATCH} events in one request; got {len(items)}."]})
        values, errors = [], {}
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                errors[f"events[{index}]" if batch else "body"] = ["Must be a JSON object."]
                continue
            serializer = self.input_class(data=item)
            if serializer.is_valid():
                values.append(dict(serializer.validated_data))
            else:
                errors.update(flatten_errors(serializer.errors, f"events[{index}]" if batch else ""))
        if errors:
            raise ValidationFailed("The request has invalid fields.", fields=errors)
        return values, batch

    def respond_recorded(self, recorded: list[services.Recorded]):
        created = any(item.created for item in recorded)
        unique = list({item.event.pk: item.event for item in recorded}.values())
        return self.respond(
            status.HTTP_201_CREATED if created else status.HTTP_200_OK,
            events=[web_event_data(event) for event in unique],
        )


POST_DESCRIPTION = (
    f"One event (a JSON object) or a batch (a JSON array, up to {MAX_BATCH}). Idempotent by `event_id` (per API "
    "key): 201 with the stored events when one was new, 200 with the same body when all were sent before. "
    "A batch is all or nothing: every bad field is named `events[i].field`."
)


class LeadWebEventsView(WebEventsAPIView):
    @api_operation(
        operation_id="lead_events_list",
        summary="A lead's web activity events, newest first",
        responses={200: WebEventPage},
        errors=(400, 404),
        parameters=[LEAD_ID, *PAGE_PARAMETERS],
    )
    def get(self, request, lead_id: str):
        page = selectors.lead_web_events(user=request.user, lead_id=lead_id, **self.page_of_lead(lead_id))
        return self.respond(
            events=[web_event_data(event) for event in page.events],
            total_count=page.total_count,
            page=page.page,
            page_size=page.page_size,
        )

    @api_operation(
        operation_id="lead_events_create",
        summary="Record web activity events of a lead",
        description=POST_DESCRIPTION,
        request=WebEventInput,
        responses={201: WebEventList, 200: WebEventList},
        errors=(404, 409),
        parameters=[LEAD_ID],
    )
    def post(self, request, lead_id: str):
        lead = selectors.lead_for_events(user=request.user, lead_id=lead_id)  # 404 before 400
        values, _batch = self.validated_events()
        recorded = services.record_web_events([(lead, item) for item in values], actor=request.user)
        return self.respond_recorded(recorded)


class MatchedWebEventsView(WebEventsAPIView):
    input_class = MatchedWebEventInput

    @api_operation(
        operation_id="events_create",
        summary="Record web activity events, matched to leads by email or phone",
        description=POST_DESCRIPTION
        + " Each event names its lead by `email` (any case) and/or `phone` (any format), among the leads the key "
        "may see: an email match wins over a phone match; among several leads, an open one (not closed or lost), "
        f'then the most recently active one. An event matching no lead is a 404 ("{NO_LEAD}") and nothing is stored.',
        request=MatchedWebEventInput,
        responses={201: WebEventList, 200: WebEventList},
        errors=(404, 409),
    )
    def post(self, request):
        values, batch = self.validated_events()
        matches = selectors.match_leads(
            user=request.user, contacts=[(item.pop("email", ""), item.pop("phone", "")) for item in values]
        )
        missing = [index for index, match in enumerate(matches) if match.lead is None]
        if missing:
            fields = {(f"events[{index}]" if batch else "email"): [NO_LEAD] for index in missing}
            raise NotFound(
                NO_LEAD if not batch else f"{len(missing)} event(s) match no lead: nothing stored.", fields=fields
            )
        recorded = services.record_web_events(
            [(match.lead, item) for match, item in zip(matches, values, strict=True)], actor=request.user
        )
        return self.respond_recorded(recorded)


urlpatterns = [
    re_path(r"^leads/(?P<lead_id>[^/]+)/events/?$", LeadWebEventsView.as_view(), name="lead-web-events"),
    re_path(r"^events/?$", MatchedWebEventsView.as_view(), name="web-events"),
]
