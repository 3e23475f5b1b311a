"""What every report reads: a date range (whole days in the viewer's time zone, both
ends included), optional source, agent and lead type, and the leads that arrived in
the range among those the viewer may see (``cohort``). The same query string works
for the pages and ``/api/v2/reports/...``; bad values are field errors (a 400)."""

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from rest_framework import serializers

from leads.accounts import availability, permissions
from leads.core.inputs import AssigneeField, Choice, flatten_errors
from leads.core.selectors import visible_leads
from leads.errors import ValidationFailed
from leads.models import Lead, LeadSource, LeadType, Role, User

DEFAULT_DAYS = 30
MAX_DAYS = 366 * 3
DEFAULT_STUCK_DAYS = 14


class ReportQuery(serializers.Serializer):
    start = serializers.DateField(required=False, input_formats=["%Y-%m-%d"])
    end = serializers.DateField(required=False, input_formats=["%Y-%m-%d"])
    source = Choice(LeadSource.choices, required=False, allow_blank=True)
    agent = AssigneeField(required=False)
    lead_type = Choice(LeadType.choices, required=False, allow_blank=True)
    stuck_days = serializers.IntegerField(required=False, min_value=1, max_value=365)

    def validate(self, attrs):
        if attrs.get("start") and attrs.get("end") and attrs["start"] > attrs["end"]:
            raise serializers.ValidationError({"end": ["The end is before the start."]})
        if attrs.get("start") and attrs.get("end") and (attrs["end"] - attrs["start"]).days > MAX_DAYS:
            raise serializers.ValidationError({"start": [f"At most {MAX_DAYS} days per report."]})
        return attrs


@dataclass(frozen=True)
class ReportFilters:
    user: User
    start: date
    end: date
    zone: zoneinfo.ZoneInfo
    source: str = ""
    agent: User | None = None
    lead_type: str = ""
    stuck_days: int = DEFAULT_STUCK_DAYS

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=self.zone)

    @property
    def end_at(self) -> datetime:
        """The first instant after the range (the end day's midnight, exclusive)."""
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=self.zone)

    @property
    def is_manager(self) -> bool:
        return permissions.can_see_team_reports(self.user)

    def scope(self) -> QuerySet[Lead]:
        """The leads the viewer may see, narrowed by source, agent and lead type."""
        leads = visible_leads(self.user)
        if self.source:
            leads = leads.filter(source=self.source)
        if self.lead_type:
            leads = leads.filter(lead_type=self.lead_type)
        if self.agent is not None:
            leads = leads.filter(assigned_to=self.agent)
        return leads

    def related_leads(self, prefix: str = "lead__") -> Q:
        """``scope`` as a condition on a row's lead (``prefix`` the path to it): a join,
        cheaper than ``lead__in=scope()`` when few rows (deals) are read, and none at all
        for whoever sees every lead unfiltered. Archived leads are not left out: a deal
        closed on a lead archived later still earned its commission. Keeps step with
        ``permissions.visible_lead_filter``, which it applies to the related lead."""
        condition = Q()
        visible = permissions.visible_lead_filter(self.user)
        if visible is None:
            return Q(pk__in=[])
        for child in visible.children:
            if not isinstance(child, tuple):  # a nested condition: the plain way
                return Q(**{f"{prefix}in": self.scope().values("pk")})
            field, value = child
            condition &= Q(**{f"{prefix}{field}": value})
        if self.source:
            condition &= Q(**{f"{prefix}source": self.source})
        if self.lead_type:
            condition &= Q(**{f"{prefix}lead_type": self.lead_type})
        if self.agent is not None:
            condition &= Q(**{f"{prefix}assigned_to": self.agent})
        return condition

    @property
    def sees_everyone(self) -> bool:
        """No agent filter and every lead visible: nothing narrows by agent."""
        return self.agent is None and permissions.can_view_all_leads(self.user)

    def cohort(self) -> QuerySet[Lead]:
        """The leads of ``scope`` that arrived in the range."""
        return self.scope().filter(created_at__gte=self.start_at, created_at__lt=self.end_at).order_by()

    def agents(self) -> list[User]:
        """The agents the viewer may see figures of: the team's (everyone's for whoever sees
        every lead), only themselves for an agent; just the chosen one when filtered."""
        if self.agent is not None:
            return [self.agent] if self.is_manager or self.agent == self.user else []
        if not self.is_manager:
            return [self.user]
        users = User.objects.filter(is_active=True, role__in=[Role.AGENT, Role.MANAGER])
        if not permissions.can_view_all_leads(self.user):
            users = users.filter(team_id=self.user.team_id)
        return list(users.order_by("first_name", "last_name", "username"))

    def as_params(self) -> dict[str, Any]:
        """The filters as query-string values (links, exports, the API's echo)."""
        params = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        if self.source:
            params["source"] = self.source
        if self.agent is not None:
            params["agent"] = self.agent.username
        if self.lead_type:
            params["lead_type"] = self.lead_type
        params["stuck_days"] = self.stuck_days
        return params

    def describe(self) -> str:
        parts = [f"{self.start:%b %-d, %Y} to {self.end:%b %-d, %Y} ({self.zone.key})"]
        if self.source:
            parts.append(f"source {LeadSource(self.source).label}")
        if self.agent is not None:
            parts.append(f"agent {self.agent}")
        if self.lead_type:
            parts.append(f"{LeadType(self.lead_type).label} leads")
        return ", ".join(parts)


def parse_filters(user: User, params) -> ReportFilters:
    """The filters of ``params`` (a QueryDict or dict); ValidationFailed with field
    errors when a value is bad. Dates default to the last ``DEFAULT_DAYS`` days."""
    query = ReportQuery(
        data={key: params.get(key) for key in ReportQuery().fields if params.get(key) not in (None, "")}
    )
    if not query.is_valid():
        raise ValidationFailed(fields=flatten_errors(query.errors))
    values = query.validated_data
    zone = availability.user_zone(user)
    today = timezone.now().astimezone(zone).date()
    end = values.get("end") or today
    start = values.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ValidationFailed(fields={"start": ["The start is after the end."]})
    return ReportFilters(
        user=user,
        start=start,
        end=end,
        zone=zone,
        source=values.get("source") or "",
        agent=values.get("agent"),
        lead_type=values.get("lead_type") or "",
        stuck_days=values.get("stuck_days") or DEFAULT_STUCK_DAYS,
    )
