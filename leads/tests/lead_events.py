"""Lead events in tests: what the saves recorded, and relaying them on demand."""

from leads.events import services as events
from leads.models import LeadEvent


def recorded_events(lead) -> list[tuple[str, int]]:
    """The lead's events ``(kind, lead_version)``, oldest first."""
    return list(LeadEvent.objects.filter(lead=lead).order_by("pk").values_list("kind", "lead_version"))


def relay_recorded_events() -> list[int]:
    """Hand every recorded event to the subscribers now, as the relay task does once a
    save commits (inside a test's transaction nothing commits). Returns the ids relayed."""
    relayed = []
    while waiting := list(LeadEvent.objects.filter(relayed_at__isnull=True).values_list("pk", flat=True)):
        outcome = events.relay(waiting)
        if not outcome.relayed:
            break
        relayed += outcome.relayed
    return relayed
