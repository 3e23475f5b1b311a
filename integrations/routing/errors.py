"""The routing's domain errors; the API maps them to its error shape (409)."""

from leads.errors import Conflict


class RoutingConflict(Conflict):
    """The offer or pond lead cannot be had: claimed by someone else, not the caller's,
    answered already, or no longer in the pond."""

    code = "routing_conflict"
    default_message = "This lead cannot be claimed or taken now."


class PondLimitReached(Conflict):
    """The agent took as many pond leads today as their daily limit allows."""

    code = "pond_limit_reached"
    default_message = "You have taken your pond leads for today."
