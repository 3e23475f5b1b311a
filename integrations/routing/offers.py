"""First to claim: a lead is offered to every eligible member of the rule's group at
once, each alerted (push, text or email) with a one-tap Claim; the first claim wins.

Exactly one winner under races: a claim locks the lead (through its write) before it
looks at the offers, so claims of one lead run one after another; the first finds the
lead unassigned and its offer open, takes the lead and withdraws the other offers; the
others then find their offer withdrawn and get a 409 (``RoutingConflict``).

An offer nobody claims before ``expires_at`` expires (``expire_offers``, a periodic
job), and so does one its agent passes; once no offer of the lead is open the rule's
fallback applies (the next rule, its agent, the pond). Offers of an agent who was
deleted or deactivated are withdrawn the same way (``withdraw_unavailable_offers``).

The Claim in an alert carries a signed token (``claim_token``) bound to the offer and
its agent, good for that purpose only and until the offer expires.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from integrations.alerts import payloads
from integrations.alerts import tasks as alerts
from integrations.routing import engine
from integrations.routing.eligibility import Candidate
from integrations.routing.errors import RoutingConflict
from integrations.routing.models import (
    Offer,
    OfferState,
    RoutingDecision,
    RoutingOutcome,
    RoutingRule,
    RoutingTrigger,
)
from leads.audit.history import AuditContext
from leads.audit.models import AuditChannel
from leads.core import writes
from leads.errors import NotFound
from leads.models import Lead, User

logger = logging.getLogger(__name__)

TOKEN_SALT = "integrations.routing.claim"
TOKEN_GRACE = timedelta(minutes=1)


# --- making offers -----------------------------------------------------------------------


def make_offers(
    lead: Lead, rule: RoutingRule, candidates: list[Candidate], eligible: list[Candidate], *, trigger: str, now
) -> RoutingDecision:
    """Offer the locked lead to every eligible candidate and alert each (sent once this commits)."""
    decision = engine.record(lead, rule, trigger, RoutingOutcome.OFFERED, None, candidates)
    expires_at = now + timedelta(minutes=rule.claim_timeout_minutes)
    offers = Offer.objects.bulk_create(
        [
            Offer(
                lead=lead,
                decision=decision,
                agent=candidate.agent,
                agent_name=str(candidate.agent)[:150],
                offered_at=now,
                expires_at=expires_at,
            )
            for candidate in eligible
        ]
    )
    for offer in offers:
        alerts.send_agent_alert(
            user=offer.agent,
            lead=lead,
            reason="offer",
            actions=offer_actions(offer, lead),
            key=f"offer:{offer.pk}",
            new_key=True,  # the offer was just made
        )
    return decision


def offer_actions(offer: Offer, lead: Lead) -> list[dict]:
    """Claim (one tap: the signed claim link) and Call."""
    claim = {"action": "claim", "title": "Claim", "url": claim_url(offer)}
    return [action for action in (claim, payloads.call_action(lead)) if action]


def claim_token(offer: Offer) -> str:
    """A signed token that claims ``offer`` for its agent, and nothing else."""
    return signing.dumps({"offer": offer.pk, "agent": offer.agent_id}, salt=TOKEN_SALT, compress=True)


def claim_url(offer: Offer) -> str:
    """The absolute link that claims the offer in one tap (``/routing/claim/<token>/``)."""
    return f"{settings.SITE_URL}{reverse('routing:claim_by_token', args=[claim_token(offer)])}"


def offer_from_token(token: str) -> Offer:
    """The offer the token names, for its agent; NotFound when the token is forged,
    altered, for another purpose, expired or its offer is gone."""
    max_age = timedelta(minutes=1440) + TOKEN_GRACE
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=max_age)
        offer_pk, agent_pk = int(data["offer"]), int(data["agent"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise NotFound("This claim link is not valid (or has expired).") from None
    offer = Offer.objects.select_related("agent", "lead").filter(pk=offer_pk, agent_id=agent_pk).first()
    if offer is None or offer.expires_at + TOKEN_GRACE < timezone.now():
        raise NotFound("This claim link is not valid (or has expired).")
    return offer


# --- answering offers --------------------------------------------------------------------


def _context(user: User, channel: str) -> AuditContext:
    return AuditContext(actor=user, channel=channel, request_id="routing")


def claim_offer(offer: Offer, user: User, *, channel: str = AuditChannel.API) -> Lead:
    """The user claims their offer: the lead is theirs, the other offers withdrawn.
    RoutingConflict (409) when the offer is someone else's, was answered, expired, or
    the lead was claimed or assigned meanwhile."""
    if offer.agent_id != user.pk:
        raise RoutingConflict("This offer was made to another agent.")
    now = timezone.now()
    try:
        with writes.lead_write(
            offer.lead.public_id, context=_context(user, channel), leads=engine.live_leads()
        ) as write:
            lead = write.lead
            if lead.assigned_to_id is not None:
                who = "you" if lead.assigned_to_id == user.pk else "another agent"
                raise RoutingConflict(f"This lead was already claimed by {who}.")
            taken = Offer.objects.filter(pk=offer.pk, agent=user, state=OfferState.OPEN, expires_at__gt=now).update(
                state=OfferState.CLAIMED, answered_at=now
            )
            if not taken:
                state = Offer.objects.filter(pk=offer.pk).values_list("state", flat=True).first()
                raise RoutingConflict(_not_open_message(state))
            decision = offer.decision
            engine.assign(write, user, rule=decision.rule, trigger=RoutingTrigger.CLAIM, candidates=[])
    except NotFound:
        raise RoutingConflict("This lead is no longer available.") from None
    logger.info("Offer %s claimed by %s", offer.pk, user)
    return write.lead


def _not_open_message(state: str | None) -> str:
    return {
        OfferState.CLAIMED: "You already claimed this lead.",
        OfferState.PASSED: "You passed on this lead.",
        OfferState.WITHDRAWN: "This lead was claimed by another agent or routed elsewhere.",
    }.get(state, "This offer has expired.")


def claim_offer_by_token(token: str) -> Offer:
    """Claim the offer the token names, for its agent (the alert's one-tap Claim);
    NotFound for a bad token, RoutingConflict as ``claim_offer``."""
    offer = offer_from_token(token)
    claim_offer(offer, offer.agent, channel=AuditChannel.PAGE)
    offer.refresh_from_db()
    return offer


def pass_offer(offer: Offer, user: User) -> Offer:
    """The user declines their offer; once no offer of the lead is open (everyone
    passed or timed out) the rule's fallback applies. RoutingConflict when the offer is
    someone else's or no longer open."""
    if offer.agent_id != user.pk:
        raise RoutingConflict("This offer was made to another agent.")
    now = timezone.now()
    with transaction.atomic():
        passed = Offer.objects.filter(pk=offer.pk, state=OfferState.OPEN).update(
            state=OfferState.PASSED, answered_at=now
        )
        if not passed:
            state = Offer.objects.filter(pk=offer.pk).values_list("state", flat=True).first()
            raise RoutingConflict(_not_open_message(state))
        _settle_decision(offer.decision_id, trigger=RoutingTrigger.PASS, now=now)
    offer.refresh_from_db()
    return offer


# --- timeouts and unavailable agents ----------------------------------------------------------


def _settle_decision(decision_id: int, *, trigger: str, now: datetime) -> RoutingDecision | None:
    """When the offers of a decision are all answered and nobody claimed, apply its
    rule's fallback to the lead (locked), unless a later decision already moved it on."""
    decision = RoutingDecision.objects.select_related("lead", "rule__fallback_agent").get(pk=decision_id)
    try:
        with transaction.atomic():
            with writes.lead_write(decision.lead.public_id, context=engine.ROUTING, leads=engine.live_leads()) as write:
                settled = _fall_back_locked(write, decision, trigger=trigger, now=now)
            engine.alert_assignee(write.lead, settled)
            return settled
    except NotFound:
        return None


def _fall_back_locked(write, decision: RoutingDecision, *, trigger: str, now: datetime) -> RoutingDecision | None:
    latest = RoutingDecision.objects.filter(lead=write.lead).order_by("-created_at", "-pk").first()
    if latest is None or latest.pk != decision.pk or write.lead.assigned_to_id is not None:
        return None
    offers = Offer.objects.filter(decision=decision)
    if offers.filter(state__in=[OfferState.OPEN, OfferState.CLAIMED]).exists():
        return None
    note = {
        RoutingTrigger.CLAIM_TIMEOUT: "Nobody claimed in time",
        RoutingTrigger.PASS: "Every agent passed",
    }.get(trigger, "The offers were withdrawn")
    offered = frozenset(offers.exclude(agent=None).values_list("agent_id", flat=True))
    rule = decision.rule
    if rule is None:
        return engine.send_to_pond(write, None, trigger=trigger, candidates=[], note=f"{note}: the pond.")
    return engine.fall_back(write, rule, trigger=trigger, candidates=[], exclude=offered, now=now, note=note)


def expire_offers(now: datetime | None = None) -> int:
    """Open offers past their timeout expire, and their leads go to the fallback
    (periodic job); returns how many offers expired."""
    now = now or timezone.now()
    expired = 0
    due = Offer.objects.filter(state=OfferState.OPEN, expires_at__lte=now)
    for decision_id in list(due.order_by().values_list("decision_id", flat=True).distinct()[:500]):
        with transaction.atomic():
            count = Offer.objects.filter(decision_id=decision_id, state=OfferState.OPEN, expires_at__lte=now).update(
                state=OfferState.EXPIRED, answered_at=now
            )
            expired += count
            if count:
                _settle_decision(decision_id, trigger=RoutingTrigger.CLAIM_TIMEOUT, now=now)
    return expired


def withdraw_unavailable_offers(now: datetime | None = None) -> int:
    """Open offers of agents deleted or deactivated are withdrawn, and their leads
    routed on when no offer is left; returns how many were withdrawn."""
    now = now or timezone.now()
    withdrawn = 0
    gone = Offer.objects.filter(state=OfferState.OPEN).filter(Q(agent=None) | Q(agent__is_active=False))
    for decision_id in list(gone.order_by().values_list("decision_id", flat=True).distinct()[:500]):
        with transaction.atomic():
            count = (
                Offer.objects.filter(decision_id=decision_id, state=OfferState.OPEN)
                .filter(Q(agent=None) | Q(agent__is_active=False))
                .update(state=OfferState.WITHDRAWN, answered_at=now)
            )
            withdrawn += count
            if count:
                _settle_decision(decision_id, trigger=RoutingTrigger.WITHDRAWN, now=now)
    return withdrawn
