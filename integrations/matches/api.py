"""REST API of property matches (v2 envelope and error shape of the leads API):

- ``GET /api/v2/leads/{lead_id}/matches``: the lead's current matches, best score first,
  paginated (``page``, ``page_size`` up to 100).

Whoever may see the lead may read its matches; any other id is a 404, as for the lead."""

from django.urls import re_path
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated

from integrations.matches import selectors
from integrations.matches.models import ListingMatch, MatchReason
from leads.api.envelope import envelope_shape
from leads.api.schema import LEAD_ID, PAGE_PARAMETERS, api_operation
from leads.api.views import LeadsAPIView


class ListingShape(serializers.Serializer):
    id = serializers.CharField(help_text="The listing's id in its source (MLS number, ...)")
    source = serializers.CharField()
    status = serializers.CharField()
    property_type = serializers.CharField()
    price = serializers.CharField(help_text="Dollars, as a decimal string")
    beds = serializers.IntegerField(allow_null=True)
    baths = serializers.CharField(allow_null=True)
    square_feet = serializers.IntegerField(allow_null=True)
    address = serializers.CharField()
    city = serializers.CharField()
    postal_code = serializers.CharField()
    location = serializers.CharField()
    features = serializers.ListField(child=serializers.CharField())
    photo_urls = serializers.ListField(child=serializers.CharField())


class MatchShape(serializers.Serializer):
    score = serializers.IntegerField(min_value=0, max_value=100, help_text="How well the listing fits")
    reasons = serializers.ListField(child=serializers.CharField(), help_text="What fits and what does not")
    reason = serializers.ChoiceField(choices=MatchReason.choices, help_text="Why it matched (again)")
    price = serializers.CharField(help_text="The listing's price when it matched")
    first_matched_at = serializers.DateTimeField()
    matched_at = serializers.DateTimeField()
    listing = ListingShape()


MatchPageShape = envelope_shape(
    "MatchPage",
    matches=MatchShape(many=True),
    total_count=serializers.IntegerField(min_value=0),
    page=serializers.IntegerField(min_value=1),
    page_size=serializers.IntegerField(min_value=1),
)


def _iso(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


def match_data(match: ListingMatch) -> dict:
    listing = match.listing
    return {
        "score": match.score,
        "reasons": list(match.reasons or []),
        "reason": match.reason,
        "price": str(match.price),
        "first_matched_at": _iso(match.first_matched_at),
        "matched_at": _iso(match.matched_at),
        "listing": {
            "id": listing.external_id,
            "source": listing.source,
            "status": listing.status,
            "property_type": listing.property_type,
            "price": str(listing.price),
            "beds": listing.beds,
            "baths": None if listing.baths is None else str(listing.baths),
            "square_feet": listing.square_feet,
            "address": listing.address,
            "city": listing.city,
            "postal_code": listing.postal_code,
            "location": listing.location,
            "features": list(listing.features or []),
            "photo_urls": list(listing.photo_urls or []),
        },
    }


class LeadMatchesView(LeadsAPIView):
    permission_classes = [IsAuthenticated]

    @api_operation(
        operation_id="lead_matches_list",
        summary="A lead's property matches, best first",
        description="The listings that fit the lead's preferences now, with a score (0-100) and the reasons. "
        "`reason` says why it matched last: a new listing, a price drop, back on the market, changed preferences.",
        responses={200: MatchPageShape},
        errors=(400, 404),
        parameters=[LEAD_ID, *PAGE_PARAMETERS],
    )
    def get(self, request, lead_id: str):
        found = selectors.lead_matches(user=request.user, lead_id=lead_id, **self.page_of_lead(lead_id))
        return self.respond(
            matches=[match_data(match) for match in found.matches],
            total_count=found.total_count,
            page=found.page,
            page_size=found.page_size,
        )


urlpatterns = [
    re_path(r"^leads/(?P<lead_id>[^/]+)/matches/?$", LeadMatchesView.as_view(), name="lead-matches"),
]
