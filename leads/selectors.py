"""Reads. Every lead lookup starts from the leads the user may see."""

from django.db.models import Prefetch, QuerySet

from leads.errors import NotFound
from leads.models import Interaction, Lead, User


def visible_leads(user: User) -> QuerySet[Lead]:
    """The leads ``user`` may see: all for managers and admins, their own for agents."""
    leads = Lead.objects.all()
    if user is None or not user.is_active:
        return leads.none()
    if user.sees_all_leads:
        return leads
    return leads.filter(assigned_to=user)


def with_lead_details(leads: QuerySet[Lead]) -> QuerySet[Lead]:
    """Everything a lead representation shows, in a fixed number of queries."""
    return leads.select_related("contact", "preferences", "timeline", "assigned_to").prefetch_related(
        Prefetch("interactions", queryset=Interaction.objects.select_related("created_by"))
    )


def lead_get(*, user: User, lead_id: str) -> Lead:
    """The visible lead with this public id; NotFound when it is missing or hidden."""
    if not isinstance(lead_id, str) or not lead_id.startswith("lead_") or len(lead_id) > 40:
        raise NotFound("Lead not found.")
    try:
        return with_lead_details(visible_leads(user)).get(public_id=lead_id)
    except Lead.DoesNotExist:
        raise NotFound("Lead not found.") from None


def agent_get(*, identifier: str | int) -> User | None:
    """An active user by username or numeric id, or None."""
    users = User.objects.filter(is_active=True)
    if isinstance(identifier, int) or (isinstance(identifier, str) and identifier.isdigit()):
        return users.filter(pk=int(identifier)).first()
    return users.filter(username=identifier).first()
