"""REST API for a lead's follow-up plans: translate JSON <-> the plans' services, in the
v2 envelope and error shape of the leads API.

- ``GET /api/v2/leads/{id}/plans``: the lead's enrolments (any state), newest first;
- ``POST /api/v2/leads/{id}/plans`` ``{"plan": <id>}``: start a plan (409 when in it);
- ``DELETE /api/v2/leads/{id}/plans/{plan id}`` (or ``?plan=<id>``, or a body ``{"plan": <id>}``): stop it;
- ``GET /api/v2/leads/{id}/plans/dry-run``: what will happen to the lead;
- ``GET /api/v2/plans/{id}/dry-run``: whom a plan would reach now (managers).

Whoever may see a lead may start and stop its plans (``leads.accounts.permissions``).
"""

from django.db import transaction
from django.urls import re_path
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from integrations.plans import selectors, services, tasks
from integrations.plans.representations import (
    EnrolmentShape,
    PlanForecastShape,
    RecipientShape,
    enrolment_data,
    plan_forecast_data,
    recipient_data,
)
from leads.accounts import permissions
from leads.api.envelope import envelope_shape
from leads.api.schema import LEAD_ID, api_operation
from leads.api.views import LeadsAPIView
from leads.core.selectors import lead_get
from leads.errors import ValidationFailed


class PlanInput(serializers.Serializer):
    plan = serializers.IntegerField(min_value=1, max_value=2**31 - 1)


EnrolmentEnvelope = envelope_shape("EnrolmentEnvelope", enrolment=EnrolmentShape())
EnrolmentList = envelope_shape(
    "EnrolmentList", enrolments=EnrolmentShape(many=True), total_count=serializers.IntegerField(min_value=0)
)
LeadDryRun = envelope_shape(
    "LeadDryRun", lead_id=serializers.CharField(), time_zone=serializers.CharField(), plans=PlanForecastShape(many=True)
)
PlanDryRun = envelope_shape(
    "PlanDryRun",
    plan=serializers.DictField(help_text='{"id", "name"}'),
    leads=RecipientShape(many=True),
    total_count=serializers.IntegerField(min_value=0),
)
PLAN_ID = OpenApiParameter(
    "plan_id", {"type": "integer", "minimum": 1}, OpenApiParameter.PATH, description="The plan's id."
)
PLAN_QUERY = OpenApiParameter("plan", {"type": "integer", "minimum": 1}, OpenApiParameter.QUERY, required=False)


class LeadPlansView(LeadsAPIView):
    permission_classes = [IsAuthenticated]

    def lead(self, lead_id: str):
        return lead_get(user=self.request.user, lead_id=lead_id)

    def stop(self, request, lead_id: str, plan_id) -> Response:
        lead = self.lead(lead_id)
        plan = selectors.plan_get(user=request.user, plan_id=plan_id)
        enrolment = services.stop(lead=lead, plan_id=plan.pk, by=request.user)
        return self.respond(enrolment=enrolment_data(enrolment))

    def plan_from_request(self, request):
        value = request.query_params.get("plan")
        if value is None and request.data:
            value = self.validated(PlanInput)["plan"]
        if value is None:
            raise ValidationFailed(fields={"plan": ['Name the plan to stop: ?plan=<id> or {"plan": <id>}.']})
        return value


class LeadPlanCollectionView(LeadPlansView):
    @api_operation(
        operation_id="lead_plans_list",
        summary="The lead's follow-up plans (every enrolment)",
        responses={200: EnrolmentList},
        errors=(404,),
        parameters=[LEAD_ID],
    )
    def get(self, request, lead_id: str):
        enrolments = list(selectors.enrolments_of(self.lead(lead_id)))
        return self.respond(enrolments=[enrolment_data(item) for item in enrolments], total_count=len(enrolments))

    @api_operation(
        operation_id="lead_plans_start",
        summary="Start a follow-up plan for the lead",
        request=PlanInput,
        responses={201: EnrolmentEnvelope},
        errors=(404, 409),
        parameters=[LEAD_ID],
    )
    def post(self, request, lead_id: str):
        lead = self.lead(lead_id)
        plan = selectors.plan_get(user=request.user, plan_id=self.validated(PlanInput)["plan"])
        with transaction.atomic():
            enrolment = services.enrol(
                lead=lead, plan=plan, reason=f"Started by {request.user.get_username()}", by=request.user
            )
            tasks.run_after_commit([enrolment.pk])
        enrolment = selectors.enrolments_of(lead).get(pk=enrolment.pk)
        return self.respond(status.HTTP_201_CREATED, enrolment=enrolment_data(enrolment))

    @api_operation(
        operation_id="lead_plans_stop_by_query",
        summary="Stop a follow-up plan for the lead (?plan=<id>)",
        responses={200: EnrolmentEnvelope},
        errors=(400, 404),
        parameters=[LEAD_ID, PLAN_QUERY],
    )
    def delete(self, request, lead_id: str):
        self.lead(lead_id)
        return self.stop(request, lead_id, self.plan_from_request(request))


class LeadPlanDetailView(LeadPlansView):
    @api_operation(
        operation_id="lead_plans_stop",
        summary="Stop a follow-up plan for the lead",
        responses={200: EnrolmentEnvelope},
        errors=(404,),
        parameters=[LEAD_ID, PLAN_ID],
    )
    def delete(self, request, lead_id: str, plan_id: str):
        return self.stop(request, lead_id, plan_id)


class LeadDryRunView(LeadPlansView):
    @api_operation(
        operation_id="lead_plans_dry_run",
        summary="What the plans will do to the lead: each coming step, when, and whether it will send",
        responses={200: LeadDryRun},
        errors=(404,),
        parameters=[LEAD_ID],
    )
    def get(self, request, lead_id: str):
        lead = self.lead(lead_id)
        forecasts = selectors.what_will_happen(lead, timezone.now())
        zone = lead.team.time_zone if lead.team_id else ""
        return self.respond(
            lead_id=lead.public_id,
            time_zone=zone or timezone.get_default_timezone_name(),
            plans=[plan_forecast_data(forecast) for forecast in forecasts],
        )


class ManagesPlans(BasePermission):
    def has_permission(self, request, view) -> bool:
        permissions.require(permissions.can_manage_plans, request.user)
        return True


class PlanDryRunView(LeadsAPIView):
    permission_classes = [IsAuthenticated, ManagesPlans]

    @api_operation(
        operation_id="plans_dry_run",
        summary="Whom the plan would enrol now, and the first message each would get",
        responses={200: PlanDryRun},
        errors=(403, 404),
        parameters=[PLAN_ID],
    )
    def get(self, request, plan_id: str):
        plan = selectors.plan_get(user=request.user, plan_id=plan_id)
        recipients, total = selectors.who_would_get(plan, timezone.now(), user=request.user)
        return self.respond(
            plan={"id": plan.pk, "name": plan.name},
            leads=[recipient_data(recipient) for recipient in recipients],
            total_count=total,
        )


app_name = "plans_api"

LEAD = r"(?P<lead_id>[^/]+)"
PLAN = r"(?P<plan_id>[^/]+)"

urlpatterns = [
    re_path(rf"^leads/{LEAD}/plans/?$", LeadPlanCollectionView.as_view(), name="lead-plans"),
    re_path(rf"^leads/{LEAD}/plans/dry-run/?$", LeadDryRunView.as_view(), name="lead-plans-dry-run"),
    re_path(rf"^leads/{LEAD}/plans/{PLAN}/?$", LeadPlanDetailView.as_view(), name="lead-plan-detail"),
    re_path(rf"^plans/{PLAN}/dry-run/?$", PlanDryRunView.as_view(), name="plan-dry-run"),
]
