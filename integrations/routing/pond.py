"""The pond: leads nobody took, which eligible agents take, within a daily limit."""

from leads.models import Lead, User


def take_from_pond(lead: Lead, user: User) -> Lead:
    """Give the pond lead to the user. RoutingConflict if not in the pond, PondLimitReached past the limit."""
    raise NotImplementedError
