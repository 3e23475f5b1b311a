"""The reports over the API, for BI tools: ``GET /api/v2/reports/{funnel,sources,agents,stages}``
with the pages' query (start, end as YYYY-MM-DD in the caller's time zone; source,
agent, lead_type; stuck_days; by=agent for the funnel). Same figures as the pages:
``columns``, ``rows`` and the report's extras, in the v2 envelope. Managers get their
team's figures, agents their own."""

from django.urls import re_path
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated

from leadmgmt.replica import reads_from_replica
from leads.api.envelope import envelope_shape
from leads.api.schema import api_operation
from leads.api.views import LeadsAPIView
from leads.errors import NotFound
from leads.reports import registry
from leads.reports.filters import parse_filters

REPORT_PARAMETERS = [
    OpenApiParameter(
        "start", str, description="First day, YYYY-MM-DD, in your time zone (default: 29 days before end)."
    ),
    OpenApiParameter("end", str, description="Last day, YYYY-MM-DD, included (default: today)."),
    OpenApiParameter("source", str, description="Only leads from this source."),
    OpenApiParameter("agent", str, description="Only this agent's leads (username or id)."),
    OpenApiParameter("lead_type", str, description="Only leads of this type."),
    OpenApiParameter("stuck_days", int, description="Time in stage: days in a stage that make a lead stuck (14)."),
    OpenApiParameter("by", str, description="Funnel: break down by source (default) or agent."),
]
REPORT_NAME = OpenApiParameter("report", str, OpenApiParameter.PATH, enum=list(registry.REPORTS))

ReportEnvelope = envelope_shape(
    "ReportEnvelope",
    report=serializers.DictField(
        help_text="name, title, filters, time_zone, columns, rows, notes and the report's extras"
    ),
)


class ReportView(LeadsAPIView):
    permission_classes = [IsAuthenticated]

    @api_operation(
        operation_id="reports_read",
        summary="A report's figures",
        responses={200: ReportEnvelope},
        errors=(400, 404),
        parameters=[REPORT_NAME, *REPORT_PARAMETERS],
    )
    @reads_from_replica
    def get(self, request, report: str):
        if report not in registry.REPORTS:
            raise NotFound("No such report.")
        filters = parse_filters(request.user, request.query_params)
        options = {"by": "agent"} if report == "funnel" and request.query_params.get("by") == "agent" else {}
        return self.respond(report=registry.build(report, filters, **options).data())


urlpatterns = [
    re_path(r"^reports/(?P<report>[a-z_]+)/?$", ReportView.as_view(), name="report"),
]
