"""Reads of deals and source spend, scoped to what the user may see."""

from django.db.models import QuerySet

from leads.accounts import permissions
from leads.core.selectors import is_lead_id, visible_leads
from leads.deals.models import Deal, SourceSpend
from leads.errors import NotFound
from leads.models import Lead, User


def lead_deals(*, user: User, lead_id: str) -> list[Deal]:
    """The deals of a lead the user may see, newest first (NotFound otherwise)."""
    lead = visible_leads(user).filter(public_id=lead_id).only("pk").first() if is_lead_id(lead_id) else None
    if lead is None:
        raise NotFound("Lead not found.")
    return list(Deal.objects.filter(lead=lead).select_related("agent").order_by("-created_at", "-id"))


def deals_of(lead: Lead) -> list[Deal]:
    """The deals of a lead already read through the user's scope, newest first."""
    return list(Deal.objects.filter(lead=lead).select_related("agent").order_by("-created_at", "-id"))


def spend_for(user: User) -> QuerySet[SourceSpend]:
    """The spend rows a manager sees: their team's (every team's for whoever sees every lead)."""
    permissions.require(permissions.can_see_team_reports, user)
    rows = SourceSpend.objects.order_by("-month", "source")
    return rows if permissions.can_view_all_leads(user) else rows.filter(team_id=user.team_id)
