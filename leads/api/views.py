"""REST API v2. Views translate HTTP <-> LeadManagementService and nothing more."""

from django.http import QueryDict
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from leads import selectors
from leads.api.envelope import envelope, mark_request_start
from leads.api.parsers import StrictJSONParser
from leads.api.representations import interaction_data, lead_data
from leads.api.serializers import InteractionInput, LeadInput, ListQuery
from leads.errors import PreconditionFailed
from leads.models import Lead
from leads.services import LeadManagementService

MULTI_VALUE = {"status", "lead_type", "source", "urgency"}


def split_commas(params: QueryDict) -> QueryDict:
    """?status=new,contacted reads like ?status=new&status=contacted; empty parts are dropped."""
    split = QueryDict(mutable=True)
    for key, values in params.lists():
        if key in MULTI_VALUE:
            values = [part for value in values for part in value.split(",") if part.strip()]
        split.setlist(key, values)
    return split


def if_match_version(request) -> int | None:
    """The lead version an update expects, from ``If-Match: "3"`` (None: absent or ``*``)."""
    header = request.headers.get("If-Match", "").strip()
    if header in ("", "*"):
        return None
    tag = header.removeprefix("W/").strip('"')
    if not (tag.isascii() and tag.isdigit() and len(tag) <= 9):
        raise PreconditionFailed('If-Match must be the ETag of the lead, e.g. "3".')
    return int(tag)


class LeadsAPIView(APIView):
    """Times every request for ``processing_time`` and answers in the v2 envelope."""

    parser_classes = [StrictJSONParser]

    def initialize_request(self, request, *args, **kwargs):
        mark_request_start(request)
        return super().initialize_request(request, *args, **kwargs)

    @property
    def service(self) -> LeadManagementService:
        return LeadManagementService(self.request.user)

    def respond(self, status_code: int = status.HTTP_200_OK, **body) -> Response:
        return Response(envelope(self.request, **body), status=status_code)

    def respond_with_lead(self, lead: Lead, status_code: int = status.HTTP_200_OK) -> Response:
        """The lead envelope; the ETag is the lead's version, for ``If-Match`` on updates."""
        response = self.respond(status_code, lead=lead_data(lead))
        response["ETag"] = f'"{lead.version}"'
        return response

    def ensure_visible(self, lead_id: str) -> None:
        """404 before any 400 or 415, so a caller learns nothing about leads it cannot see."""
        selectors.lead_ensure_visible(user=self.request.user, lead_id=lead_id)

    def validated(self, serializer_class, *, partial: bool = False) -> dict:
        serializer = serializer_class(data=self.request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class LeadCollectionView(LeadsAPIView):
    def get(self, request):
        query = ListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        result = self.service.list_leads(filters=split_commas(request.query_params), **query.validated_data)
        return self.respond(
            leads=[lead_data(lead) for lead in result.leads],
            total_count=result.total_count,
            page=result.page,
            page_size=result.page_size,
        )

    def post(self, request):
        lead = self.service.create_lead(self.validated(LeadInput))
        response = self.respond_with_lead(lead, status.HTTP_201_CREATED)
        response["Location"] = request.build_absolute_uri(f"{request.path.rstrip('/')}/{lead.public_id}")
        return response


class LeadDetailView(LeadsAPIView):
    def get(self, request, lead_id: str):
        return self.respond_with_lead(self.service.get_lead(lead_id))

    def put(self, request, lead_id: str):
        # PUT merges like PATCH: the seed's integrations send only what changed.
        return self.patch(request, lead_id)

    def patch(self, request, lead_id: str):
        self.ensure_visible(lead_id)
        expected_version = if_match_version(request)
        lead = self.service.update_lead(
            lead_id, self.validated(LeadInput, partial=True), expected_version=expected_version
        )
        return self.respond_with_lead(lead)


class LeadInteractionsView(LeadsAPIView):
    def get(self, request, lead_id: str):
        lead = self.service.get_lead(lead_id)
        return self.respond(interactions=[interaction_data(item) for item in lead.interactions.all()])

    def post(self, request, lead_id: str):
        self.ensure_visible(lead_id)
        lead, _interaction = self.service.add_interaction(lead_id, self.validated(InteractionInput))
        return self.respond_with_lead(lead, status.HTTP_201_CREATED)
