"""Who of a rule's group may get a lead now, and why the others may not.

An agent is eligible when active, not paused, not on time off, within their working
hours (unless the rule allows off-hours) and under their capacity (open leads in
status "new" assigned to them). Everything is read in a handful of queries whatever
the group's size: hours, days off, profiles and open-lead counts in one query each.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count

from integrations.routing.models import AgentRoutingProfile, RoutingMethod, RoutingRule, RuleMember, SkipReason
from leads.accounts import availability
from leads.models import Lead, LeadStatus, TimeOff, User, WorkingHours


@dataclass
class Candidate:
    agent: User | None  # None: the rule's fixed agent was deleted
    weight: int
    eligible: bool = True
    skipped_because: str | None = None

    def as_json(self) -> dict:
        return {
            "agent_id": self.agent.pk if self.agent else None,
            "name": (self.agent.get_full_name() or self.agent.username) if self.agent else "(deleted agent)",
            "weight": self.weight,
            "eligible": self.eligible,
            "skipped_because": self.skipped_because,
        }


def group_of(rule: RoutingRule) -> list[Candidate]:
    """The rule's candidates before any check: its fixed agent, or its members by weight."""
    if rule.method == RoutingMethod.FIXED_AGENT:
        return [Candidate(rule.fixed_agent if rule.fixed_agent_id else None, 1)]
    members = RuleMember.objects.filter(rule=rule).select_related("agent__team", "agent__routing_profile")
    return [Candidate(member.agent, member.weight) for member in members.order_by("pk")]


def evaluate(
    candidates: list[Candidate], *, rule: RoutingRule, at: datetime, exclude: frozenset[int] = frozenset()
) -> list[Candidate]:
    """Mark each candidate eligible or skipped (with the reason), in place; returns them."""
    agents = [candidate.agent for candidate in candidates if candidate.agent is not None]
    ids = [agent.pk for agent in agents]
    profiles = _profiles(agents)
    hours = _hours(ids) if not rule.allow_off_hours else {}
    days_off = _days_off(ids, at)
    capped = [pk for pk, profile in profiles.items() if profile.capacity is not None]
    open_counts = _open_new_leads(capped)
    for candidate in candidates:
        candidate.skipped_because = _skip_reason(
            candidate.agent,
            rule=rule,
            at=at,
            exclude=exclude,
            profile=profiles.get(candidate.agent.pk) if candidate.agent else None,
            hours=hours.get(candidate.agent.pk, []) if candidate.agent else [],
            days_off=days_off.get(candidate.agent.pk, []) if candidate.agent else [],
            open_count=open_counts.get(candidate.agent.pk, 0) if candidate.agent else 0,
        )
        candidate.eligible = candidate.skipped_because is None
    return candidates


def _skip_reason(agent, *, rule, at, exclude, profile, hours, days_off, open_count) -> str | None:
    if agent is None:
        return SkipReason.DELETED
    if not agent.is_active:
        return SkipReason.INACTIVE
    if agent.pk in exclude:
        return SkipReason.ALREADY_OFFERED
    if profile is not None and profile.paused:
        return SkipReason.PAUSED
    if availability.is_on_time_off(agent, at, days_off=days_off):
        return SkipReason.TIME_OFF
    if not rule.allow_off_hours and not availability.is_within(
        availability.shifts(hours), at, availability.user_zone(agent)
    ):
        return SkipReason.OFF_HOURS
    if profile is not None and profile.capacity is not None and open_count >= profile.capacity:
        return SkipReason.AT_CAPACITY
    return None


def _profiles(agents: list[User]) -> dict[int, AgentRoutingProfile]:
    """The agents' routing profiles: those selected with them (``group_of``), the rest read at once."""
    descriptor = User.routing_profile
    found = {}
    unread = []
    for agent in agents:
        if not descriptor.is_cached(agent):
            unread.append(agent.pk)
        elif (profile := descriptor.related.get_cached_value(agent)) is not None:
            found[agent.pk] = profile
    if unread:
        found.update({profile.user_id: profile for profile in AgentRoutingProfile.objects.filter(user_id__in=unread)})
    return found


def _hours(user_ids: list[int]) -> dict[int, list[WorkingHours]]:
    found = defaultdict(list)
    for row in WorkingHours.objects.filter(user_id__in=user_ids):
        found[row.user_id].append(row)
    return found


def _days_off(user_ids: list[int], at: datetime) -> dict[int, list[TimeOff]]:
    """Days off around ``at`` (a day either side covers every zone)."""
    day = at.date()
    found = defaultdict(list)
    rows = TimeOff.objects.filter(
        user_id__in=user_ids, starts_on__lte=day + timedelta(days=1), ends_on__gte=day - timedelta(days=1)
    )
    for row in rows:
        found[row.user_id].append(row)
    return found


def _open_new_leads(user_ids: list[int]) -> dict[int, int]:
    if not user_ids:
        return {}
    rows = (
        Lead.objects.filter(assigned_to_id__in=user_ids, status=LeadStatus.NEW, archived_at__isnull=True)
        .values_list("assigned_to_id")
        .annotate(count=Count("pk"))
    )
    return dict(rows)
