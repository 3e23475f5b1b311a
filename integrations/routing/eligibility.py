"""Who of a rule's group may get a lead now, and why the others may not.

An agent is eligible when active, not paused, not on time off, within their working
hours (unless the rule allows off-hours) and under their capacity (open leads in
status "new" assigned to them). Everything is read in a handful of queries whatever
the group's size: hours, days off, profiles and open-lead counts in one query each
(``Facts``); routing a lead reads the groups of all the rules it may be routed by and
their facts at once (``Roster``).
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
    facts = Facts.read(agents, at=at, with_hours=not rule.allow_off_hours)
    return facts.evaluate(candidates, rule=rule, exclude=exclude)


@dataclass
class Facts:
    """What decides whether agents are eligible at ``at``: their profiles, working hours,
    days off and open-lead counts, read in one query each."""

    at: datetime
    profiles: dict[int, AgentRoutingProfile]
    hours: dict[int, list[WorkingHours]]
    days_off: dict[int, list[TimeOff]]
    open_counts: dict[int, int]

    @classmethod
    def read(cls, agents: list[User], *, at: datetime, with_hours: bool = True) -> "Facts":
        ids = list(dict.fromkeys(agent.pk for agent in agents))
        profiles = _profiles(agents)
        capped = [pk for pk, profile in profiles.items() if profile.capacity is not None]
        return cls(
            at=at,
            profiles=profiles,
            hours=_hours(ids) if with_hours and ids else {},
            days_off=_days_off(ids, at) if ids else {},
            open_counts=_open_new_leads(capped),
        )

    def evaluate(
        self, candidates: list[Candidate], *, rule: RoutingRule, exclude: frozenset[int] = frozenset()
    ) -> list[Candidate]:
        """Mark each candidate eligible or skipped for ``rule`` (with the reason), in place; returns them."""
        for candidate in candidates:
            pk = candidate.agent.pk if candidate.agent else None
            candidate.skipped_because = _skip_reason(
                candidate.agent,
                rule=rule,
                at=self.at,
                exclude=exclude,
                profile=self.profiles.get(pk),
                hours=self.hours.get(pk, []),
                days_off=self.days_off.get(pk, []),
                open_count=self.open_counts.get(pk, 0),
            )
            candidate.eligible = candidate.skipped_because is None
        return candidates


class Roster:
    """The groups of the rules a lead may be routed by, and their members' eligibility
    facts, read once for all of them on the first rule tried (a constant number of
    queries whatever the number of rules tried or of members)."""

    def __init__(self, rules: list[RoutingRule], *, at: datetime):
        self.rules = rules
        self.at = at
        self._members: dict[int, list[RuleMember]] | None = None
        self._facts: Facts | None = None

    def candidates(self, rule: RoutingRule, *, exclude: frozenset[int] = frozenset()) -> list[Candidate]:
        """``evaluate(group_of(rule), ...)`` from what was read for all the rules."""
        if self._members is None:
            self._read()
        if rule.pk not in self._members and rule.method != RoutingMethod.FIXED_AGENT:
            return evaluate(group_of(rule), rule=rule, at=self.at, exclude=exclude)  # not one of ``rules``
        if rule.method == RoutingMethod.FIXED_AGENT:
            group = group_of(rule)
        else:
            group = [Candidate(member.agent, member.weight) for member in self._members[rule.pk]]
        return self._facts.evaluate(group, rule=rule, exclude=exclude)

    def _read(self) -> None:
        grouped = [rule for rule in self.rules if rule.method != RoutingMethod.FIXED_AGENT]
        self._members = {rule.pk: [] for rule in grouped}
        if grouped:
            members = RuleMember.objects.filter(rule__in=grouped)
            for member in members.select_related("agent__team", "agent__routing_profile").order_by("pk"):
                self._members[member.rule_id].append(member)
        agents = [member.agent for members in self._members.values() for member in members]
        fixed = [rule for rule in self.rules if rule.method == RoutingMethod.FIXED_AGENT and rule.fixed_agent_id]
        agents += [rule.fixed_agent for rule in fixed]
        with_hours = any(not rule.allow_off_hours for rule in self.rules)
        self._facts = Facts.read(agents, at=self.at, with_hours=with_hours)


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
