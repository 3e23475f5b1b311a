"""Frequency control, as functions of a subscription in memory (the caller saves it):
alerts that go unopened slow down (instant -> daily -> weekly), then pause; an open or
a click restores the frequency the agent or the lead chose. Each change writes the note
the lead page shows."""

from datetime import datetime

from django.conf import settings

from integrations.property_alerts.models import AlertSubscription, Frequency

SLOWER = {Frequency.INSTANT: Frequency.DAILY, Frequency.DAILY: Frequency.WEEKLY, Frequency.WEEKLY: None}
WORDS = {Frequency.INSTANT: "instant", Frequency.DAILY: "daily", Frequency.WEEKLY: "weekly", Frequency.OFF: "off"}


def threshold(effective: str) -> int:
    """How many unopened alerts in a row at ``effective`` make it step down (or pause, at weekly)."""
    if effective == Frequency.WEEKLY:
        return max(1, settings.PROPERTY_ALERTS_PAUSE_AFTER)
    return max(1, settings.PROPERTY_ALERTS_STEP_DOWN_AFTER)


def step_down_if_ignored(subscription: AlertSubscription, *, now: datetime) -> bool:
    """Slow the alerts down (or pause them) when the last alerts at the frequency in force
    all went unopened; True when it changed anything."""
    if subscription.paused_at is not None or subscription.effective_frequency not in SLOWER:
        return False
    unopened = subscription.consecutive_unopened
    if unopened < threshold(subscription.effective_frequency):
        return False
    slower = SLOWER[subscription.effective_frequency]
    if slower is None:
        subscription.paused_at = now
        note = f"Alerts paused: last {unopened} not opened"
    else:
        subscription.effective_frequency = slower
        note = f"Alerts slowed to {WORDS[slower]}: last {unopened} not opened"
    subscription.consecutive_unopened = 0
    subscription.note, subscription.note_at = note, now
    return True


def restore(subscription: AlertSubscription, *, now: datetime, because: str) -> bool:
    """The lead engaged (``because``: "opened an alert", "clicked a listing"): the chosen
    frequency back, the pause cleared, the count of unopened alerts reset. True when the
    frequency or the pause changed (a note says so)."""
    changed = subscription.paused_at is not None or subscription.effective_frequency != subscription.frequency
    subscription.consecutive_unopened = 0
    if changed:
        subscription.effective_frequency = subscription.frequency
        subscription.paused_at = None
        subscription.note = f"Alerts back to {WORDS[subscription.frequency]}: the lead {because}"
        subscription.note_at = now
    return changed


def choose(subscription: AlertSubscription, *, frequency: str, now: datetime) -> None:
    """A new chosen frequency: in force at once, nothing slowed or paused any more."""
    subscription.frequency = subscription.effective_frequency = frequency
    subscription.paused_at = None
    subscription.consecutive_unopened = 0
    subscription.set_at = now
    subscription.note, subscription.note_at = "", None
