"""First to claim: offers, claims (exactly one winner), passes, timeouts."""

from datetime import datetime

from integrations.routing.models import Offer
from leads.models import Lead, User


def claim_token(offer: Offer) -> str:
    """A signed token that claims ``offer`` for its agent (the alert's Claim button)."""
    raise NotImplementedError


def claim_offer(offer: Offer, user: User) -> Lead:
    """Claim the offer: the lead is the user's. RoutingConflict (409) otherwise."""
    raise NotImplementedError


def claim_offer_by_token(token: str) -> Offer:
    """Claim the offer the token names, for its agent."""
    raise NotImplementedError


def pass_offer(offer: Offer, user: User) -> Offer:
    """Decline the offer; when every offer of its decision is answered the lead routes on."""
    raise NotImplementedError


def expire_offers(now: datetime | None = None) -> int:
    """Periodic: offers past their timeout expire and their leads go to the fallback."""
    raise NotImplementedError


def withdraw_unavailable_offers(now: datetime | None = None) -> int:
    """Open offers of deleted or deactivated agents are withdrawn (and the lead routed on)."""
    raise NotImplementedError
