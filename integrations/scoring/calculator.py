"""Explainable lead scoring: a 0-100 score and the factors that made it.

Two axes, as agents read them: **fit** (who the lead is: financing, budget against
the market, timeline, how reachable they are, how leads from the same source have
converted for this team) and **engagement** (what they did: interactions, how
recently they showed signs of life, replies, meetings and showings, and what they did
on the team's website: listings viewed and saved, searches saved, registering, an
inquiry, clicks in alert emails). Each factor
earns a fraction of its weight (``settings.LEAD_SCORING``) and says why.

Fair housing: the score never reads names, email addresses or their domains, phone
area codes, free text, tags or custom fields, and a location only serves to compare
the lead's budget with prices there: no place earns or loses points by itself.
Nothing that could stand in for a protected characteristic feeds the score.
"""

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone

from integrations.scoring.config import scoring_config
from integrations.scoring.selectors import SourceConversion, source_conversion_stats
from leads.models import (
    ContactChannel,
    FinancingStatus,
    Interaction,
    InteractionDirection,
    InteractionType,
    Lead,
    LeadType,
    UrgencyLevel,
)
from leads.webevents.selectors import WebEngagement, web_engagement

FIT = "fit"
ENGAGEMENT = "engagement"
NEUTRAL = 0.5  # the fraction a factor earns when it does not apply or we have no data

FINANCING_FRACTIONS = {
    FinancingStatus.CASH: (1.0, "Cash buyer."),
    FinancingStatus.PRE_APPROVED: (0.9, "Pre-approved for a mortgage."),
    FinancingStatus.PRE_QUALIFIED: (0.6, "Pre-qualified, not yet pre-approved."),
    FinancingStatus.NOT_STARTED: (0.1, "Financing not started."),
}
URGENCY_FRACTIONS = {
    UrgencyLevel.URGENT: 1.0,
    UrgencyLevel.HIGH: 0.75,
    UrgencyLevel.NORMAL: 0.4,
    UrgencyLevel.LOW: 0.15,
}
# (days until the target move date, fraction): the first bound the date falls within.
MOVE_DATE_FRACTIONS = ((30, 1.0), (90, 0.75), (180, 0.4))
MOVE_DATE_FAR_FRACTION = 0.15
FACE_TO_FACE = (InteractionType.MEETING, InteractionType.SHOWING)


class Factor(TypedDict):
    factor: str
    axis: str
    points: float
    max_points: float
    reason: str


@dataclass(frozen=True)
class ScoreResult:
    """``score`` is 0-100; ``fit`` and ``engagement`` are the points on each axis
    (out of ``fit_max`` and ``engagement_max``); ``factors`` is the breakdown."""

    score: int
    fit: int
    engagement: int
    fit_max: int
    engagement_max: int
    factors: list[Factor]


def score_lead(
    lead: Lead,
    *,
    market_analysis: dict[str, Any] | None,
    now: datetime | None = None,
    web: WebEngagement | None = None,
) -> ScoreResult:
    """Score ``lead`` as of ``now`` (default: now). Pure: reads, never writes.

    ``market_analysis`` is the market step's result (``lead.metadata["market_analysis"]``);
    None or missing keys count as "no data", which scores neutral. Reads the lead's
    contact, preferences, timeline and ``interactions.all()`` (prefetch them for
    batches) and the cached conversion stats by source. ``web`` is the lead's website
    activity over the last WEB_ACTIVITY_DAYS (``leads.webevents.selectors.web_engagement``,
    one query for a batch); when None it is read for this lead (one query).
    """
    now = now or timezone.now()
    config = scoring_config()
    if web is None:
        days = int(config["WEB_ACTIVITY_DAYS"])
        web = web_engagement([lead.pk], now=now, days=days).get(lead.pk, WebEngagement(days=days))
    timeline = _one_to_one(lead, "timeline")
    contact = _one_to_one(lead, "contact")
    interactions = [
        interaction
        for interaction in lead.interactions.all()
        if interaction.occurred_at <= now and interaction.direction != InteractionDirection.INTERNAL
    ]
    fractions = [
        (FIT, "financing", _financing(lead, timeline)),
        (FIT, "budget_fit", _budget_fit(market_analysis, config)),
        (FIT, "timeline", _timeline(timeline, now)),
        (FIT, "contact", _contact_completeness(contact)),
        (FIT, "source_quality", _source_quality(lead, config)),
        (ENGAGEMENT, "interactions", _interaction_count(interactions, config)),
        (ENGAGEMENT, "recency", _recency(lead, interactions, web, now, config)),
        (ENGAGEMENT, "replies", _replies(interactions, config)),
        (ENGAGEMENT, "showings", _showings(interactions, config)),
        (ENGAGEMENT, "web_activity", _web_activity(web, config)),
    ]
    weights = {FIT: config["FIT_WEIGHTS"], ENGAGEMENT: config["ENGAGEMENT_WEIGHTS"]}
    factors: list[Factor] = []
    raw = {FIT: 0.0, ENGAGEMENT: 0.0}
    for axis, name, (fraction, reason) in fractions:
        max_points = float(weights[axis].get(name, 0))
        points = max_points * min(max(fraction, 0.0), 1.0)
        raw[axis] += points
        factors.append(Factor(factor=name, axis=axis, points=round(points, 1), max_points=max_points, reason=reason))
    fit_max = sum(weights[FIT].values())
    engagement_max = sum(weights[ENGAGEMENT].values())
    total_max = fit_max + engagement_max
    score = round(100 * (raw[FIT] + raw[ENGAGEMENT]) / total_max) if total_max else 0
    return ScoreResult(
        score=min(max(score, 0), 100),
        fit=round(raw[FIT]),
        engagement=round(raw[ENGAGEMENT]),
        fit_max=round(fit_max),
        engagement_max=round(engagement_max),
        factors=factors,
    )


# --- fit ---------------------------------------------------------------------


def _financing(lead: Lead, timeline) -> tuple[float, str]:
    if lead.lead_type in (LeadType.SELLER, LeadType.RENTER):
        return NEUTRAL, f"Financing does not apply to a {lead.get_lead_type_display().lower()} lead; neutral."
    status = timeline.financing_status if timeline else FinancingStatus.NOT_STARTED
    return FINANCING_FRACTIONS.get(status, (0.0, "Financing status unknown."))


def _budget_fit(market_analysis: dict[str, Any] | None, config: dict[str, Any]) -> tuple[float, str]:
    """The best of the preferred locations with market data."""
    locations = market_analysis.get("locations") if isinstance(market_analysis, dict) else None
    best: tuple[float, str] | None = None
    for location in locations if isinstance(locations, list) else []:
        rated = _location_fit(location, config) if isinstance(location, dict) else None
        if rated is not None and (best is None or rated[0] > best[0]):
            best = rated
    return best or (NEUTRAL, "No market data for the preferred locations yet; neutral.")


def _location_fit(location: dict[str, Any], config: dict[str, Any]) -> tuple[float, str] | None:
    if location.get("status") != "ok":
        return None
    name = str(location.get("location") or "the preferred")
    budget = location.get("budget_fit") if isinstance(location.get("budget_fit"), dict) else {}
    position = budget.get("position")
    gap = _number(budget.get("difference_pct"))
    gap = abs(gap) if gap is not None else 0.0
    fraction: float | None
    if position == "within":
        fraction, reason = 1.0, f"Budget is within the {name} market."
    elif position == "above":
        fraction, reason = 1.0, f"Budget is {gap:.0f}% above the {name} median."
    elif position == "below":
        fraction = max(0.0, 1.0 - gap / float(config["BUDGET_GAP_ZERO_AT_PCT"]))
        reason = f"Budget is {gap:.0f}% under the {name} median."
    else:
        fraction, reason = None, f"No budget comparison for {name}."
    matching = location.get("matching_listings")
    if isinstance(matching, int) and not isinstance(matching, bool):
        if matching > 0:
            # Listings that fit prove the budget works somewhere in that market.
            fraction = max(fraction or 0.0, NEUTRAL)
            reason += f" {matching} active listing{'s' if matching != 1 else ''} match."
        elif fraction is not None:
            reason += " No active listing matches yet."
    return None if fraction is None else (fraction, reason)


def _timeline(timeline, now: datetime) -> tuple[float, str]:
    urgency = timeline.urgency_level if timeline else UrgencyLevel.NORMAL
    fraction = URGENCY_FRACTIONS.get(urgency, URGENCY_FRACTIONS[UrgencyLevel.NORMAL])
    reason = f"Urgency: {urgency}."
    move_date = timeline.target_move_date if timeline else None
    if move_date is not None:
        days = (move_date - now.date()).days
        if days < 0:
            reason += f" Target move date {move_date.isoformat()} has passed."
        else:
            move_fraction = next((f for bound, f in MOVE_DATE_FRACTIONS if days <= bound), MOVE_DATE_FAR_FRACTION)
            fraction = max(fraction, move_fraction)
            reason += f" Wants to move in {days} day{'s' if days != 1 else ''} ({move_date.isoformat()})."
    return fraction, reason


def _contact_completeness(contact) -> tuple[float, str]:
    if contact is None:
        return 0.0, "No contact details."
    has_email = bool(contact.email)
    has_phone = bool(contact.phone) and contact.phone_is_valid
    fraction = 0.4 * has_email + 0.4 * has_phone
    parts = ["email" if has_email else "no email"]
    if has_phone:
        parts.append("valid phone")
    else:
        parts.append("invalid phone" if contact.phone else "no phone")
    reachable = {
        ContactChannel.EMAIL: has_email and not contact.email_opt_out,
        ContactChannel.PHONE: has_phone and not contact.call_opt_out,
        ContactChannel.TEXT: has_phone and not contact.sms_opt_out,
    }.get(contact.preferred_contact_method, False)
    if reachable:
        fraction += 0.2
        parts.append(f"reachable by preferred {contact.get_preferred_contact_method_display().lower()}")
    else:
        parts.append(f"not reachable by preferred {contact.get_preferred_contact_method_display().lower()}")
    return fraction, "Contact: " + ", ".join(parts) + "."


def _source_quality(lead: Lead, config: dict[str, Any]) -> tuple[float, str]:
    """The source's conversion rate, smoothed towards the team's rate; the team's
    average earns half the points and twice the average earns all of them."""
    stats = source_conversion_stats()
    prior_weight = float(config["SOURCE_PRIOR_WEIGHT"])
    prior_rate = float(config["SOURCE_PRIOR_RATE"])
    team_total = sum(source.total for source in stats.values())
    team_converted = sum(source.converted for source in stats.values())
    team_rate = (team_converted + prior_rate * prior_weight) / max(team_total + prior_weight, 1)
    own = stats.get(lead.source, SourceConversion(total=0, converted=0))
    rate = (own.converted + team_rate * prior_weight) / max(own.total + prior_weight, 1)
    fraction = rate / team_rate / 2 if team_rate > 0 else NEUTRAL
    if own.total == 0:
        return (
            fraction,
            f"No history for {lead.get_source_display()} leads yet; the team's rate ({team_rate:.0%}) assumed.",
        )
    reason = (
        f"{lead.get_source_display()} leads: {own.converted} of {own.total} reached qualified; "
        f"smoothed rate {rate:.0%} against the team's {team_rate:.0%}."
    )
    return fraction, reason


# --- engagement ----------------------------------------------------------------


def _interaction_count(interactions: list[Interaction], config: dict[str, Any]) -> tuple[float, str]:
    count = len(interactions)
    return (
        count / max(config["INTERACTIONS_FULL_AT"], 1),
        f"{count} interaction{'s' if count != 1 else ''} logged (internal notes not counted).",
    )


def _recency(
    lead: Lead, interactions: list[Interaction], web: WebEngagement, now: datetime, config: dict[str, Any]
) -> tuple[float, str]:
    """Exponential decay since the lead's last sign of life: arriving, replying,
    meeting the agent, or being active on the website (the agent's own outbound
    attempts do not count)."""
    last_at, what = lead.created_at, "arrived"
    for interaction in interactions:
        is_sign_of_life = interaction.direction == InteractionDirection.INBOUND or interaction.type in FACE_TO_FACE
        if is_sign_of_life and interaction.occurred_at > last_at:
            last_at, what = interaction.occurred_at, f"{interaction.get_type_display().lower()}"
    if web.last_at is not None and last_at < web.last_at <= now:
        last_at, what = web.last_at, "website activity"
    half_life = float(config["RECENCY_HALF_LIFE_DAYS"])
    age_days = max((now - last_at).total_seconds() / 86400, 0.0)
    fraction = math.pow(0.5, age_days / half_life) if half_life > 0 else 0.0
    return fraction, f"Last sign of life ({what}) {_age(age_days)}; points halve every {half_life:g} days."


def _replies(interactions: list[Interaction], config: dict[str, Any]) -> tuple[float, str]:
    count = sum(1 for interaction in interactions if interaction.direction == InteractionDirection.INBOUND)
    return (
        count / max(config["REPLIES_FULL_AT"], 1),
        f"The lead reached out {count} time{'s' if count != 1 else ''} (inbound calls, emails, texts).",
    )


def _showings(interactions: list[Interaction], config: dict[str, Any]) -> tuple[float, str]:
    count = sum(1 for interaction in interactions if interaction.type in FACE_TO_FACE)
    return (
        count / max(config["SHOWINGS_FULL_AT"], 1),
        f"{count} meeting{'s' if count != 1 else ''} or showing{'s' if count != 1 else ''}.",
    )


def _web_activity(web: WebEngagement, config: dict[str, Any]) -> tuple[float, str]:
    """What the lead did on the team's website (and in alert emails) lately: listings
    viewed (or clicked in an alert) earn up to 40%, listings and searches saved up to
    30%, an inquiry 30% (registering 15%). Bounded: a thousand views earn what
    WEB_VIEWS_FULL_AT do."""
    days = web.days
    viewed = web.listings_viewed or web.views
    views = web.views + web.alert_clicks
    saved = web.saves + web.searches_saved
    if not (views or saved or web.registered or web.inquiries):
        return 0.0, f"No website activity in the last {days} days."
    fraction = 0.4 * min(views / max(config["WEB_VIEWS_FULL_AT"], 1), 1.0)
    fraction += 0.3 * min(saved / max(config["WEB_SAVES_FULL_AT"], 1), 1.0)
    fraction += 0.3 if web.inquiries else 0.15 if web.registered else 0.0
    parts = []
    if viewed:
        parts.append(f"viewed {viewed} listing{'s' if viewed != 1 else ''}")
    if web.alert_clicks:
        parts.append(f"clicked {web.alert_clicks} alert link{'s' if web.alert_clicks != 1 else ''}")
    if web.saves:
        parts.append(f"saved {web.saves} listing{'s' if web.saves != 1 else ''}")
    if web.searches_saved:
        parts.append(f"saved {web.searches_saved} search{'es' if web.searches_saved != 1 else ''}")
    if web.inquiries:
        parts.append(f"sent {web.inquiries} inquir{'ies' if web.inquiries != 1 else 'y'}")
    if web.registered:
        parts.append("registered")
    window = "this week" if days == 7 else f"in the last {days} days"
    return min(fraction, 1.0), f"{', '.join(parts).capitalize()} {window} on the website."


# --- helpers -------------------------------------------------------------------


def _one_to_one(lead: Lead, name: str):
    try:
        return getattr(lead, name)
    except ObjectDoesNotExist:
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _age(days: float) -> str:
    if days < 1 / 24:
        return "less than an hour ago"
    if days < 1:
        hours = round(days * 24)
        return f"{hours} hour{'s' if hours != 1 else ''} ago"
    whole = round(days)
    return f"{whole} day{'s' if whole != 1 else ''} ago"
