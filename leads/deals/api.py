"""REST API of deals (v2 envelope and error shape of the leads API):

- ``GET /api/v2/leads/{lead_id}/deals``: the lead's deals, newest first;
- ``POST /api/v2/leads/{lead_id}/deals``: record one; a closed deal moves the lead to
  ``closed``, a deal under contract moves an open lead to ``under_contract``.

``PUT /api/v2/leads/{lead_id}`` with ``"status": "closed"`` is refused (400, field
``deal``) while the lead has no closed deal. Whoever may see the lead may do both."""

from django.urls import re_path
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated

from leads.api.envelope import envelope_shape
from leads.api.schema import LEAD_ID, api_operation
from leads.api.views import LeadsAPIView
from leads.deals import selectors, services
from leads.deals.inputs import DealInput
from leads.deals.models import Deal
from leads.models import AuditChannel


class DealShape(serializers.Serializer):
    id = serializers.IntegerField()
    lead_id = serializers.CharField()
    property_address = serializers.CharField()
    price = serializers.CharField(help_text="Dollars, as a decimal string")
    commission_rate = serializers.CharField(allow_null=True, help_text="Percent of the price")
    commission_amount = serializers.CharField(allow_null=True)
    gross_commission = serializers.CharField()
    team_split = serializers.CharField(help_text="The team's share of the commission, percent")
    team_commission = serializers.CharField()
    stage = serializers.CharField()
    contract_date = serializers.DateField(allow_null=True)
    closed_on = serializers.DateField(allow_null=True)
    agent = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()


def _decimal(value) -> str | None:
    return None if value is None else str(value)


def deal_data(deal: Deal, *, lead_id: str) -> dict:
    return {
        "id": deal.pk,
        "lead_id": lead_id,
        "property_address": deal.property_address,
        "price": _decimal(deal.price),
        "commission_rate": _decimal(deal.commission_rate),
        "commission_amount": _decimal(deal.commission_amount),
        "gross_commission": _decimal(deal.gross_commission),
        "team_split": _decimal(deal.team_split),
        "team_commission": _decimal(deal.team_commission),
        "stage": deal.stage,
        "contract_date": deal.contract_date.isoformat() if deal.contract_date else None,
        "closed_on": deal.closed_on.isoformat() if deal.closed_on else None,
        "agent": deal.agent.username if deal.agent_id else None,
        "created_at": deal.created_at.isoformat().replace("+00:00", "Z"),
    }


DealList = envelope_shape("DealList", deals=DealShape(many=True))
DealEnvelope = envelope_shape("DealEnvelope", deal=DealShape(), lead_status=serializers.CharField())


class LeadDealsView(LeadsAPIView):
    permission_classes = [IsAuthenticated]

    @api_operation(
        operation_id="lead_deals_list",
        summary="A lead's deals, newest first",
        responses={200: DealList},
        errors=(404,),
        parameters=[LEAD_ID],
    )
    def get(self, request, lead_id: str):
        deals = selectors.lead_deals(user=request.user, lead_id=lead_id)
        return self.respond(deals=[deal_data(deal, lead_id=lead_id) for deal in deals])

    @api_operation(
        operation_id="lead_deals_create",
        summary="Record a deal on a lead",
        description="The commission is a rate (percent of the price) or an amount, exactly one. A closed deal "
        "(closed_on defaults to today) moves the lead to closed; a lead can only be closed with one.",
        request=DealInput,
        responses={201: DealEnvelope},
        errors=(404,),
        parameters=[LEAD_ID],
    )
    def post(self, request, lead_id: str):
        data = self.validated(DealInput)
        deal = services.deal_create(actor=request.user, lead_id=lead_id, data=data, channel=AuditChannel.API)
        return self.respond(
            status.HTTP_201_CREATED, deal=deal_data(deal, lead_id=lead_id), lead_status=deal.lead.status
        )


urlpatterns = [
    re_path(r"^leads/(?P<lead_id>[^/]+)/deals/?$", LeadDealsView.as_view(), name="lead-deals"),
]
