"""REST API of the routing (v2 envelope and error shape of the leads API):

- ``GET /api/v2/leads/{lead_id}/routing``: the lead's trace (whoever may see the lead);
- ``GET /api/v2/routing/offers``: the caller's open offers;
- ``POST /api/v2/routing/offers/{offer_id}/claim`` and ``.../pass``: answer one of them
  (another agent's offer, an offer already answered or a lead claimed by someone
  else is a 409; an unknown offer a 404);
- ``GET /api/v2/routing/pond``: the pond leads the caller may take;
- ``POST /api/v2/routing/pond/{lead_id}/take``: take one (409 when taken meanwhile or
  past the daily limit).

Views translate HTTP <-> the routing services and selectors, nothing more."""

from django.urls import re_path
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated

from integrations.routing import pond, selectors, services
from integrations.routing.representations import (
    MyOfferShape,
    OfferShape,
    PondEntryShape,
    TraceShape,
    my_offer_data,
    offer_data,
    pond_entry_data,
    trace_data,
)
from leads.api.envelope import envelope_shape
from leads.api.schema import LEAD_ID, LeadEnvelope, api_operation
from leads.api.views import LeadsAPIView
from leads.core import selectors as lead_selectors
from leads.core.representations import LeadShape, lead_data
from leads.errors import NotFound
from leads.models import Lead

TraceEnvelope = envelope_shape("RoutingTraceEnvelope", routing=TraceShape())
OfferList = envelope_shape(
    "RoutingOfferList", offers=MyOfferShape(many=True), total_count=serializers.IntegerField(min_value=0)
)
OfferEnvelope = envelope_shape("RoutingOfferEnvelope", offer=OfferShape())
ClaimEnvelope = envelope_shape("RoutingClaimEnvelope", offer=OfferShape(), lead=LeadShape())
PondList = envelope_shape(
    "RoutingPondList",
    pond=PondEntryShape(many=True),
    total_count=serializers.IntegerField(min_value=0),
    taken_today=serializers.IntegerField(min_value=0, help_text="Pond leads you took today (your time zone)."),
    daily_limit=serializers.IntegerField(min_value=0, help_text="How many you may take per day."),
)

OFFER_ID = OpenApiParameter("offer_id", int, OpenApiParameter.PATH, description="The offer's id.")


def _offer_id(value: str) -> int:
    """The offer id in the path; a 404 for anything that is not one (no 400: ids are not probed)."""
    if not (value.isascii() and value.isdigit() and len(value) <= 18):
        raise NotFound("Offer not found.")
    return int(value)


class RoutingAPIView(LeadsAPIView):
    permission_classes = [IsAuthenticated]


class LeadRoutingView(RoutingAPIView):
    @api_operation(
        operation_id="leads_routing",
        summary="A lead's routing trace",
        description="Every routing decision about the lead, oldest first: the rule that matched, each candidate "
        "agent (eligible, or skipped and why), what happened (assigned, offered, pond, kept, next rule), who got "
        "it, and the first-to-claim offers with their states and timeouts.",
        responses={200: TraceEnvelope},
        errors=(404,),
        parameters=[LEAD_ID],
    )
    def get(self, request, lead_id: str):
        return self.respond(routing=trace_data(selectors.lead_trace(request.user, lead_id)))


class OfferCollectionView(RoutingAPIView):
    @api_operation(
        operation_id="routing_offers_list",
        summary="Your open first-to-claim offers, soonest to expire first",
        responses={200: OfferList},
    )
    def get(self, request):
        offers = [my_offer_data(offer) for offer in selectors.open_offers(request.user)]
        return self.respond(offers=offers, total_count=len(offers))


class OfferClaimView(RoutingAPIView):
    @api_operation(
        operation_id="routing_offers_claim",
        summary="Claim an offered lead",
        description="The first claim wins: the lead is yours and the other offers are withdrawn. 409 when the offer "
        "is another agent's, or no longer open (claimed by someone else, passed, expired), or the lead already has "
        "an agent; 404 for an unknown offer.",
        responses={200: ClaimEnvelope},
        errors=(404, 409),
        parameters=[OFFER_ID],
    )
    def post(self, request, offer_id: str):
        offer = selectors.offer_for(request.user, _offer_id(offer_id))
        lead = services.claim_offer(offer, request.user)
        offer = selectors.offer_for(request.user, offer.pk)
        detailed = lead_selectors.with_lead_details(Lead.objects.filter(pk=lead.pk)).get()
        return self.respond(offer=offer_data(offer), lead=lead_data(detailed))


class OfferPassView(RoutingAPIView):
    @api_operation(
        operation_id="routing_offers_pass",
        summary="Pass on an offered lead",
        description="Once every agent offered the lead has passed (or timed out) it goes to the rule's fallback. "
        "409 when the offer is another agent's or no longer open; 404 for an unknown offer.",
        responses={200: OfferEnvelope},
        errors=(404, 409),
        parameters=[OFFER_ID],
    )
    def post(self, request, offer_id: str):
        offer = services.pass_offer(selectors.offer_for(request.user, _offer_id(offer_id)), request.user)
        return self.respond(offer=offer_data(selectors.offer_for(request.user, offer.pk)))


class PondCollectionView(RoutingAPIView):
    @api_operation(
        operation_id="routing_pond_list",
        summary="The pond leads you may take, oldest first",
        responses={200: PondList},
    )
    def get(self, request):
        entries = [pond_entry_data(entry) for entry in selectors.pond_entries(request.user)[:500]]
        return self.respond(
            pond=entries,
            total_count=selectors.pond_entries(request.user).count(),
            taken_today=selectors.pond_takes_today(request.user),
            daily_limit=pond.profile_of(request.user).pond_daily_limit,
        )


class PondTakeView(RoutingAPIView):
    @api_operation(
        operation_id="routing_pond_take",
        summary="Take a lead from the pond",
        description="The lead becomes yours. 409 `routing_conflict` when someone took it first, 409 "
        "`pond_limit_reached` past your daily limit, 403 while you are paused; 404 for a lead not in a pond you may "
        "take from.",
        responses={200: LeadEnvelope},
        errors=(403, 404, 409),
        parameters=[LEAD_ID],
    )
    def post(self, request, lead_id: str):
        lead = services.take_from_pond(selectors.pond_lead_for(request.user, lead_id), request.user)
        return self.respond_with_lead(lead_selectors.with_lead_details(Lead.objects.filter(pk=lead.pk)).get())


app_name = "routing_api"

LEAD = r"(?P<lead_id>[^/]+)"
OFFER = r"(?P<offer_id>[^/]+)"

urlpatterns = [
    re_path(rf"^leads/{LEAD}/routing/?$", LeadRoutingView.as_view(), name="lead-routing"),
    re_path(r"^routing/offers/?$", OfferCollectionView.as_view(), name="offer-list"),
    re_path(rf"^routing/offers/{OFFER}/claim/?$", OfferClaimView.as_view(), name="offer-claim"),
    re_path(rf"^routing/offers/{OFFER}/pass/?$", OfferPassView.as_view(), name="offer-pass"),
    re_path(r"^routing/pond/?$", PondCollectionView.as_view(), name="pond-list"),
    re_path(rf"^routing/pond/{LEAD}/take/?$", PondTakeView.as_view(), name="pond-take"),
]
