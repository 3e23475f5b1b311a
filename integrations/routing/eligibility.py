"""Who of a rule's group may get a lead now, and why the others may not.

An agent is eligible when active, not paused, not on time off, within their working
hours (unless the rule allows off-hours) and under their capacity (open leads in
status "new" assigned to them). Everything is read in a handful of queries whatever
the group's size: hours, days off, profiles and open-lead counts in one query each
(``Facts``); routing a lead reads the groups of the rules it may be routed by and their
facts at most twice, however many rules it falls through (``Roster``).
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from integrations.routing.models import AgentRoutingProfile, RoutingMethod, RoutingRule, RuleMember, SkipReason
from leads.accounts import availability
from leads.models import LeadStatus, TimeOff, User, WorkingHours
from leads.reporting import counts


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
    hours: dict[int, list]  # rows of _hours
    days_off: dict[int, list]  # rows of _days_off
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
    """The groups of the rules a lead may be routed by (in the order they are tried) and
    their members' eligibility facts: the first rule's read on its own (the lead usually
    goes to its group), then, if the lead falls through to another rule, those of all the
    rules left at once; so a lead costs the same queries whatever the number of rules tried
    or of members."""

    def __init__(self, rules: list[RoutingRule], *, at: datetime):
        self.rules = rules
        self.at = at
        self._members: dict[int, list[RuleMember]] = {}
        self._facts: dict[int, Facts] = {}

    def candidates(self, rule: RoutingRule, *, exclude: frozenset[int] = frozenset()) -> list[Candidate]:
        """``evaluate(group_of(rule), ...)`` from what was read for the rules."""
        if rule.pk not in self._facts:
            left = [other for other in self.rules if other.pk not in self._facts]
            self._read(left if self._facts and any(other.pk == rule.pk for other in left) else [rule])
        if rule.method == RoutingMethod.FIXED_AGENT:
            group = group_of(rule)
        else:
            group = [Candidate(member.agent, member.weight) for member in self._members[rule.pk]]
        return self._facts[rule.pk].evaluate(group, rule=rule, exclude=exclude)

    def _read(self, rules: list[RoutingRule]) -> None:
        grouped = [rule for rule in rules if rule.method != RoutingMethod.FIXED_AGENT]
        members = {rule.pk: [] for rule in grouped}
        if grouped:
            rows = RuleMember.objects.filter(rule__in=grouped)
            for member in rows.select_related("agent__team", "agent__routing_profile").order_by("pk"):
                members[member.rule_id].append(member)
        agents = [member.agent for group in members.values() for member in group]
        fixed = [rule for rule in rules if rule.method == RoutingMethod.FIXED_AGENT and rule.fixed_agent_id]
        if fixed:  # the rules are read without their agents (``engine.rules_for``): these at once
            found = User.objects.select_related("team", "routing_profile").in_bulk(
                {rule.fixed_agent_id for rule in fixed}
            )
            for rule in fixed:
                if rule.fixed_agent_id in found:
                    rule.fixed_agent = found[rule.fixed_agent_id]
        agents += [rule.fixed_agent for rule in fixed if rule.fixed_agent_id]
        facts = Facts.read(agents, at=self.at, with_hours=any(not rule.allow_off_hours for rule in rules))
        self._members.update(members)
        self._facts.update(dict.fromkeys((rule.pk for rule in rules), facts))


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


def _hours(user_ids: list[int]) -> dict[int, list]:
    """The agents' weekly hours as rows with ``weekday``, ``starts_at`` and ``ends_at``
    (tuples, not model instances: this is read for every lead routed)."""
    found = defaultdict(list)
    fields = ("user_id", "weekday", "starts_at", "ends_at")
    for row in WorkingHours.objects.filter(user_id__in=user_ids).values_list(*fields, named=True):
        found[row.user_id].append(row)
    return found


def _days_off(user_ids: list[int], at: datetime) -> dict[int, list]:
    """Days off around ``at`` (a day either side covers every zone), as rows with
    ``starts_on`` and ``ends_on``."""
    day = at.date()
    found = defaultdict(list)
    rows = TimeOff.objects.filter(
        user_id__in=user_ids, starts_on__lte=day + timedelta(days=1), ends_on__gte=day - timedelta(days=1)
    )
    for row in rows.values_list("user_id", "starts_on", "ends_on", named=True):
        found[row.user_id].append(row)
    return found


def _open_new_leads(user_ids: list[int]) -> dict[int, int]:
    # From the lead counters: an agent's new leads can run to thousands, counted for every lead routed.
    return counts.live_leads_by_agent(user_ids, status=LeadStatus.NEW)
