"""REST API v2. Views translate HTTP <-> LeadManagementService and nothing more."""

from django.http import QueryDict
from rest_framework import exceptions, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from leadmgmt.replica import reads_from_replica
from leads.accounts import permissions
from leads.api.bodies import batch_item_data, batch_result_data, history_page_data, lead_page_data
from leads.api.envelope import envelope, mark_request_start
from leads.api.idempotency import idempotent
from leads.api.lead_cache import cached_lead_data
from leads.api.parsers import ExactContentNegotiation, StrictJSONParser
from leads.api.ratelimit import RateLimited, add_budget_headers, spend_api_budget
from leads.api.schema import (
    ETAG,
    FORCE,
    IF_MATCH,
    LEAD_ID,
    LEAD_LIST_PARAMETERS,
    LOCATION,
    MERGE_ID,
    ON_DUPLICATE,
    PAGE_PARAMETERS,
    AttachedLeadEnvelope,
    BatchRequest,
    BatchResult,
    HistoryPage,
    InteractionList,
    LeadEnvelope,
    LeadPage,
    MergeDetail,
    MergeEnvelope,
    MergeUndone,
    api_operation,
    etag_header,
)
from leads.api.serializers import BatchInput, CreateOptions, LeadListQuery, ListQuery, MergeInput, MergeUndoQuery
from leads.audit import history as audit
from leads.core import selectors
from leads.core.duplicates import OnDuplicate
from leads.core.inputs import InteractionInput, LeadInput, flatten_errors
from leads.core.representations import interaction_data, lead_data, merge_data
from leads.core.services import BatchItemResult, LeadManagementService
from leads.errors import PreconditionFailed
from leads.merges import services as merges
from leads.models import AuditChannel, Lead
from leads.ratelimit import Budget

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


def request_id(request) -> str:
    """The caller's ``X-Request-ID`` (kept in the audit history) when it is a short printable token."""
    value = request.headers.get("X-Request-ID", "").strip()
    return value if len(value) <= 64 and value.isascii() and value.isprintable() else ""


class LeadsAPIView(APIView):
    """Times every request for ``processing_time``, answers in the v2 envelope and
    spends the caller's request budget (``leads.api.ratelimit``)."""

    parser_classes = [StrictJSONParser]
    content_negotiation_class = ExactContentNegotiation
    rate_budget: Budget | None = None

    def initialize_request(self, request, *args, **kwargs):
        mark_request_start(request)
        return super().initialize_request(request, *args, **kwargs)

    def perform_authentication(self, request):
        """Authenticate, then count the request: per user, or per client address when
        the credentials are missing or wrong (so guessing tokens is limited too)."""
        try:
            super().perform_authentication(request)
        except exceptions.APIException:
            self.spend_rate_budget(request)
            raise
        self.spend_rate_budget(request)

    def spend_rate_budget(self, request) -> None:
        self.rate_budget = spend_api_budget(request)
        if self.rate_budget is not None and self.rate_budget.exceeded:
            raise RateLimited(self.rate_budget)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        add_budget_headers(response, self.rate_budget)
        return response

    @property
    def service(self) -> LeadManagementService:
        return LeadManagementService(self.request.user, channel=AuditChannel.API, request_id=request_id(self.request))

    def respond(self, status_code: int = status.HTTP_200_OK, **body) -> Response:
        return Response(envelope(self.request, **body), status=status_code)

    def respond_with_lead(self, lead: Lead, status_code: int = status.HTTP_200_OK) -> Response:
        return self.respond_with_lead_data(lead_data(lead), status_code)

    def respond_with_lead_data(self, data: dict, status_code: int = status.HTTP_200_OK) -> Response:
        """The lead envelope; the ETag is the lead's version, for ``If-Match`` on updates."""
        response = self.respond(status_code, lead=data)
        response["ETag"] = f'"{data["version"]}"'
        return response

    def ensure_visible(self, lead_id: str) -> None:
        """404 before any 400 or 415, so a caller learns nothing about leads it cannot see."""
        selectors.lead_ensure_visible(user=self.request.user, lead_id=lead_id)

    def page_of_lead(self, lead_id: str) -> dict:
        """``?page=&page_size=`` of a list under a lead, validated after the lead is found
        visible when they are bad (404 before 400)."""
        query = ListQuery(data=self.request.query_params)
        if not query.is_valid():
            self.ensure_visible(lead_id)
            query.is_valid(raise_exception=True)
        return query.validated_data

    def validated(self, serializer_class, *, partial: bool = False) -> dict:
        serializer = serializer_class(data=self.request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class LeadCollectionView(LeadsAPIView):
    @api_operation(
        operation_id="leads_list",
        summary="List the leads you can see",
        responses={200: LeadPage},
        errors=(400,),
        parameters=LEAD_LIST_PARAMETERS,
    )
    @reads_from_replica
    def get(self, request):
        query = LeadListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = self.service.list_leads(filters=split_commas(request.query_params), **query.validated_data)
        return self.respond(**lead_page_data(page))

    @api_operation(
        operation_id="leads_create",
        summary="Create a lead",
        description="201 with the new lead. A lead whose email or phone matches one the team has is a 409 "
        "`duplicate_lead`, or with `on_duplicate=attach` a 200 with the existing lead the inquiry was logged on.",
        request=LeadInput,
        responses={201: LeadEnvelope, 200: AttachedLeadEnvelope},
        errors=(403, 409),
        parameters=[ON_DUPLICATE, etag_header(201), etag_header(200, required=False), LOCATION],
        idempotent=True,
    )
    def post(self, request):
        return idempotent(request, self.create)

    def create(self) -> Response:
        """201 with the new lead; a duplicate is a 409, or with ``on_duplicate=attach``
        a 200 with the existing lead the inquiry was attached to (``lead`` is null
        when the caller may not see that lead)."""
        data = self.validated(LeadInput)
        options = CreateOptions(data={"on_duplicate": self.option("on_duplicate")})
        options.is_valid(raise_exception=True)
        if options.validated_data["on_duplicate"] == OnDuplicate.ATTACH:
            intake = self.service.create_or_attach_lead(data)
            if not intake.created:
                lead = lead_data(intake.lead) if intake.lead is not None else None
                response = self.respond(lead=lead, attached_to=intake.existing.public_id)
                if lead is not None:
                    response["ETag"] = f'"{lead["version"]}"'
                return response
            lead = intake.lead
        else:
            lead = self.service.create_lead(data, reject_duplicates=True)
        response = self.respond_with_lead(lead, status.HTTP_201_CREATED)
        response["Location"] = self.request.build_absolute_uri(f"{self.request.path.rstrip('/')}/{lead.public_id}")
        return response

    def option(self, name: str):
        """A create option, from the query string or else the body."""
        if name in self.request.query_params:
            return self.request.query_params[name]
        return self.request.data.get(name) if isinstance(self.request.data, dict) else None


class LeadBatchView(LeadsAPIView):
    @api_operation(
        operation_id="leads_batch_create",
        summary="Create up to 500 leads",
        description="Each item is validated and created on its own: the answer has one result per item, in input "
        "order (created, duplicate or error), and the counts. One bad item does not block the others.",
        request=BatchRequest,
        responses={200: BatchResult},
        errors=(403,),
        idempotent=True,
    )
    def post(self, request):
        return idempotent(request, self.create_batch)

    def create_batch(self) -> Response:
        """200 with one result per item, in input order, and the counts."""
        items = self.validated(BatchInput)["leads"]
        results: list[dict] = [{}] * len(items)
        valid: list[tuple[int, dict]] = []
        # One serializer validates every item (building its fields is most of the cost).
        item_input = LeadInput()
        for index, item in enumerate(items):
            try:
                valid.append((index, item_input.run_validation(item)))
            except ValidationError as exc:
                invalid = BatchItemResult(
                    index, BatchItemResult.ERROR, code="validation_error", errors=flatten_errors(exc.detail)
                )
                results[index] = batch_item_data(index, invalid)
        outcomes = self.service.create_leads_batch([data for _, data in valid])
        for (index, _), outcome in zip(valid, outcomes, strict=True):
            results[index] = batch_item_data(index, outcome)
        return self.respond(**batch_result_data(results))


class LeadDetailView(LeadsAPIView):
    @api_operation(
        operation_id="leads_read",
        summary="Read a lead",
        responses={200: LeadEnvelope},
        errors=(404,),
        parameters=[LEAD_ID, ETAG],
    )
    def get(self, request, lead_id: str):
        return self.respond_with_lead_data(cached_lead_data(user=request.user, lead_id=lead_id))

    @api_operation(
        operation_id="leads_update",
        summary="Update a lead (fields left out stay as they are, like PATCH)",
        request=LeadInput(partial=True),
        responses={200: LeadEnvelope},
        errors=(403, 404, 412),
        parameters=[LEAD_ID, IF_MATCH, ETAG],
    )
    def put(self, request, lead_id: str):
        # PUT merges like PATCH: the seed's integrations send only what changed.
        return self.patch(request, lead_id)

    @api_operation(
        operation_id="leads_partial_update",
        summary="Update some fields of a lead",
        request=LeadInput(partial=True),
        responses={200: LeadEnvelope},
        errors=(403, 404, 412),
        parameters=[LEAD_ID, IF_MATCH, ETAG],
    )
    def patch(self, request, lead_id: str):
        self.ensure_visible(lead_id)
        expected_version = if_match_version(request)
        lead = self.service.update_lead(
            lead_id, self.validated(LeadInput, partial=True), expected_version=expected_version
        )
        return self.respond_with_lead(lead)

    @api_operation(
        operation_id="leads_archive",
        summary="Archive a lead (managers and admins; restorable in the admin)",
        responses={204: None},
        errors=(403, 404, 412),
        parameters=[LEAD_ID, IF_MATCH],
    )
    def delete(self, request, lead_id: str):
        self.service.archive_lead(lead_id, expected_version=if_match_version(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class LeadInteractionsView(LeadsAPIView):
    @api_operation(
        operation_id="lead_interactions_list",
        summary="A lead's interactions, newest first",
        responses={200: InteractionList},
        errors=(404,),
        parameters=[LEAD_ID],
    )
    def get(self, request, lead_id: str):
        lead = self.service.get_lead(lead_id)
        return self.respond(interactions=[interaction_data(item) for item in lead.interactions.all()])

    @api_operation(
        operation_id="lead_interactions_create",
        summary="Log an interaction with a lead",
        request=InteractionInput,
        responses={201: LeadEnvelope},
        errors=(403, 404),
        parameters=[LEAD_ID, ETAG],
        idempotent=True,
    )
    def post(self, request, lead_id: str):
        self.ensure_visible(lead_id)
        return idempotent(request, lambda: self.add_interaction(lead_id))

    def add_interaction(self, lead_id: str) -> Response:
        lead, _interaction = self.service.add_interaction(lead_id, self.validated(InteractionInput))
        return self.respond_with_lead(lead, status.HTTP_201_CREATED)


class LeadHistoryView(LeadsAPIView):
    @api_operation(
        operation_id="lead_history_list",
        summary="A lead's audit history, newest first",
        description="Every change to the lead and its parts: field, old and new value, who, when and through "
        "which channel (API, agent pages, admin, task).",
        responses={200: HistoryPage},
        errors=(400, 404),
        parameters=[LEAD_ID, *PAGE_PARAMETERS],
    )
    def get(self, request, lead_id: str):
        history = audit.lead_history(user=request.user, lead_id=lead_id, **self.page_of_lead(lead_id))
        return self.respond(**history_page_data(history))


class LeadMergeView(LeadsAPIView):
    @api_operation(
        operation_id="leads_merge",
        summary="Merge a duplicate into this lead (managers)",
        description="The duplicate's interactions and history move to this lead and the duplicate is archived. "
        "`prefer` picks, per field, whose value wins. Undo with POST /api/v2/merges/{merge_id}/undo.",
        request=MergeInput,
        responses={201: MergeEnvelope},
        errors=(403, 404, 409),
        parameters=[LEAD_ID, ETAG],
    )
    def post(self, request, lead_id: str):
        self.ensure_visible(lead_id)
        permissions.require(permissions.can_merge, request.user)
        data = self.validated(MergeInput)
        service = self.service
        merge = merges.lead_merge(
            actor=request.user,
            primary_id=lead_id,
            duplicate_id=data["duplicate_id"],
            prefer=data["prefer"],
            context=service.audit_context,
        )
        primary = lead_data(service.get_lead(lead_id))
        response = self.respond(status.HTTP_201_CREATED, merge=merge_data(merge), lead=primary)
        response["ETag"] = f'"{primary["version"]}"'
        return response


class MergeDetailView(LeadsAPIView):
    @api_operation(
        operation_id="merges_read",
        summary="Read a merge (managers)",
        responses={200: MergeDetail},
        errors=(403, 404),
        parameters=[MERGE_ID],
    )
    def get(self, request, merge_id: str):
        permissions.require(permissions.can_merge, request.user)
        return self.respond(merge=merge_data(merges.merge_get(user=request.user, merge_id=merge_id)))


class MergeUndoView(LeadsAPIView):
    @api_operation(
        operation_id="merges_undo",
        summary="Undo a merge (managers): both leads as they were",
        description="409 when the merge was already undone, or when a lead changed since (send `force=true` to "
        "undo anyway).",
        responses={200: MergeUndone},
        errors=(400, 403, 404, 409),
        parameters=[MERGE_ID, FORCE],
    )
    def post(self, request, merge_id: str):
        permissions.require(permissions.can_merge, request.user)
        query = MergeUndoQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        service = self.service
        merge = merges.lead_merge_undo(
            actor=request.user, merge_id=merge_id, force=query.validated_data["force"], context=service.audit_context
        )
        return self.respond(
            merge=merge_data(merge),
            primary=lead_data(service.get_lead(merge.primary.public_id)),
            duplicate=lead_data(service.get_lead(merge.duplicate.public_id)),
        )
