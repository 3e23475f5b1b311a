"""The pond: a team's shared queue of leads nobody took (no eligible agent, nobody
claimed in time, an SLA breach sent back). An active, unpaused agent of the team takes
a lead from it, up to their daily limit (``AgentRoutingProfile.pond_daily_limit``,
counted in their own day); a manager or an admin takes leads for themselves the same way.

Two agents taking the same lead: the lead is locked (its write) first, so the second
finds it taken (409). One agent taking several at once: their profile row is locked,
so the limit holds under races too."""

from datetime import datetime, time

from django.utils import timezone

from integrations.routing import engine
from integrations.routing.errors import PondLimitReached, RoutingConflict
from integrations.routing.models import AgentRoutingProfile, PondEntry, PondStatus, RoutingTrigger
from leads.accounts import availability, permissions
from leads.audit.history import AuditContext
from leads.audit.models import AuditChannel
from leads.core import writes
from leads.errors import NotFound, PermissionDenied
from leads.models import Lead, User


def start_of_day(user: User, now: datetime) -> datetime:
    """Midnight of ``now``'s day in the user's zone."""
    tz = availability.user_zone(user)
    return datetime.combine(now.astimezone(tz).date(), time.min, tzinfo=tz)


def takes_today(user: User, now: datetime) -> int:
    return PondEntry.objects.filter(taken_by=user, taken_at__gte=start_of_day(user, now)).count()


def may_take_from(user: User, entry: PondEntry) -> bool:
    """Whether the user may take the pond entry: an active member of its team (anyone
    in an install without teams), or an admin."""
    if not user.is_active:
        return False
    if permissions.can_view_all_leads(user):
        return True
    return entry.team_id == user.team_id


def profile_of(user: User, *, lock: bool = False) -> AgentRoutingProfile:
    AgentRoutingProfile.objects.get_or_create(user=user)
    profiles = AgentRoutingProfile.objects.select_for_update() if lock else AgentRoutingProfile.objects
    return profiles.get(user=user)


def take_from_pond(lead: Lead, user: User, *, channel: str = AuditChannel.API) -> Lead:
    """Give the pond lead to the user. RoutingConflict (409) when the lead is not (or no
    longer) in the pond, PondLimitReached (409) past the daily limit, PermissionDenied
    (403) for a pond the user may not take from (or while paused)."""
    now = timezone.now()
    context = AuditContext(actor=user, channel=channel, request_id="routing")
    try:
        with writes.lead_write(lead.public_id, context=context, leads=engine.live_leads()) as write:
            entry = PondEntry.objects.select_for_update().filter(lead=write.lead, status=PondStatus.OPEN).first()
            if entry is None or write.lead.assigned_to_id is not None:
                raise RoutingConflict("This lead is no longer in the pond: someone took it.")
            if not may_take_from(user, entry):
                raise PermissionDenied("This lead is in another team's pond.")
            profile = profile_of(user, lock=True)
            if profile.paused:
                raise PermissionDenied("You are paused: resume taking leads first.")
            if takes_today(user, now) >= profile.pond_daily_limit:
                raise PondLimitReached(
                    f"You have taken {profile.pond_daily_limit} pond leads today, your daily limit. "
                    "More tomorrow, or ask your manager."
                )
            PondEntry.objects.filter(pk=entry.pk).update(status=PondStatus.TAKEN, taken_by=user, taken_at=now)
            engine.assign(write, user, rule=None, trigger=RoutingTrigger.POND_TAKE, candidates=[])
    except NotFound:
        raise RoutingConflict("This lead is no longer in the pond.") from None
    return write.lead
