"""REST API of a lead's property alert settings, in the v2 envelope and error shape:

- ``GET /api/v2/leads/{id}/alert-settings``: the chosen and the effective frequency,
  frequency control's note and pause, and the last alerts;
- ``PATCH /api/v2/leads/{id}/alert-settings`` ``{"frequency": "weekly"}``: set by the caller.

Whoever may see a lead may change its alerts (``leads.core.selectors.lead_get``)."""

from django.urls import re_path
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated

from integrations.property_alerts import services
from integrations.property_alerts.lead_section import lead_alerts_card
from integrations.property_alerts.models import AlertStatus, Frequency, SetBy
from leads.api.envelope import envelope_shape
from leads.api.schema import LEAD_ID, api_operation
from leads.api.views import LeadsAPIView
from leads.core.representations import iso
from leads.core.selectors import lead_get
from leads.core.shapes import Shape, choice, datetime_field, renders


class FrequencyInput(serializers.Serializer):
    frequency = serializers.ChoiceField(choices=Frequency.choices)


class AlertMessageShape(Shape):
    sent_at = datetime_field()
    frequency = choice(Frequency.choices)
    status = choice(AlertStatus.choices)
    reason = serializers.CharField(allow_blank=True)
    listing_count = serializers.IntegerField(min_value=0)
    opened_at = datetime_field(allow_null=True)
    clicked_at = datetime_field(allow_null=True)


class AlertSettingsShape(Shape):
    frequency = choice(Frequency.choices, help_text="The frequency chosen (by the agent, the lead, or the default).")
    effective_frequency = choice(Frequency.choices, help_text="In force after frequency control.")
    set_by = choice(SetBy.choices)
    set_at = datetime_field(allow_null=True)
    paused = serializers.BooleanField(help_text="Paused by frequency control after unopened alerts.")
    note = serializers.CharField(allow_blank=True, help_text="What frequency control did last.")
    consecutive_unopened = serializers.IntegerField(min_value=0)
    recent_alerts = AlertMessageShape(many=True)


@renders(AlertSettingsShape)
def settings_data(card: dict) -> dict:
    subscription = card["subscription"]
    return {
        "frequency": subscription.frequency,
        "effective_frequency": subscription.effective_frequency,
        "set_by": subscription.set_by,
        "set_at": None if card["is_default"] else iso(subscription.set_at),
        "paused": subscription.paused_at is not None,
        "note": subscription.note,
        "consecutive_unopened": subscription.consecutive_unopened,
        "recent_alerts": [
            {
                "sent_at": iso(message.sent_at),
                "frequency": message.frequency,
                "status": message.status,
                "reason": message.reason,
                "listing_count": message.listing_count,
                "opened_at": iso(message.opened_at),
                "clicked_at": iso(message.clicked_at),
            }
            for message in card["messages"]
        ],
    }


AlertSettingsEnvelope = envelope_shape("AlertSettingsEnvelope", alert_settings=AlertSettingsShape())


class LeadAlertSettingsView(LeadsAPIView):
    permission_classes = [IsAuthenticated]

    @api_operation(
        operation_id="lead_alert_settings_read",
        summary="The lead's property alert settings and its last alerts",
        responses={200: AlertSettingsEnvelope},
        errors=(404,),
        parameters=[LEAD_ID],
    )
    def get(self, request, lead_id: str):
        lead = lead_get(user=request.user, lead_id=lead_id)
        return self.respond(alert_settings=settings_data(lead_alerts_card(lead)))

    @api_operation(
        operation_id="lead_alert_settings_update",
        summary="Set how often the lead gets property alerts",
        request=FrequencyInput,
        responses={200: AlertSettingsEnvelope},
        errors=(404,),
        parameters=[LEAD_ID],
    )
    def patch(self, request, lead_id: str):
        lead = lead_get(user=request.user, lead_id=lead_id)
        frequency = self.validated(FrequencyInput)["frequency"]
        services.set_frequency(lead=lead, frequency=frequency, by=SetBy.AGENT, user=request.user)
        return self.respond(alert_settings=settings_data(lead_alerts_card(lead)))


app_name = "property_alerts_api"

urlpatterns = [
    re_path(
        r"^leads/(?P<lead_id>[^/]+)/alert-settings/?$", LeadAlertSettingsView.as_view(), name="lead-alert-settings"
    ),
]
