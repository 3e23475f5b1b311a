"""The plans' send-time rules, as functions of plain values: the lead's zone, quiet
hours, consent, the daily cap, and when a wait ends. Checked when a step runs (and
again when its message is handed over), never only at enrolment."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

from integrations.plans.models import Channel, Consent, PlanStep, StepKind
from integrations.sms import client as sms_client
from leads.accounts import availability
from leads.models import Lead

STEP_CHANNELS = {StepKind.SEND_EMAIL: Channel.EMAIL, StepKind.SEND_TEXT: Channel.TEXT}
OPT_OUT_FIELDS = {Channel.EMAIL: "email_opt_out", Channel.TEXT: "sms_opt_out", Channel.CALL: "call_opt_out"}


def lead_zone(lead: Lead) -> ZoneInfo:
    """The lead's zone: its team's (the site's without a team)."""
    return availability.team_zone(lead.team)


def _wall(value: str, default: time) -> time:
    try:
        return time.fromisoformat(value)
    except (TypeError, ValueError):
        return default


def text_window() -> tuple[time, time]:
    """(from, until): texts go out from 9:00 until 20:00 lead-local by default."""
    return (
        _wall(settings.PLANS_TEXT_QUIET_HOURS_END, time(9)),
        _wall(settings.PLANS_TEXT_QUIET_HOURS_START, time(20)),
    )


def at_wall(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The instant clocks in ``tz`` show ``wall`` on ``day`` (DST-safe: wall time, not an offset)."""
    return datetime.combine(day, wall, tzinfo=tz)


def quiet_until(now: datetime, tz: ZoneInfo) -> datetime | None:
    """When a text due at ``now`` may go: None when it may go now, else the next opening
    of the window (9:00 local the same morning, or the next day after 20:00)."""
    opens, closes = text_window()
    local = now.astimezone(tz)
    if opens <= local.time() < closes:
        return None
    day = local.date() if local.time() < opens else local.date() + timedelta(days=1)
    return at_wall(day, opens, tz)


def local_day_bounds(now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    day = now.astimezone(tz).date()
    return at_wall(day, time(0), tz), at_wall(day + timedelta(days=1), time(0), tz)


def next_day_opening(now: datetime, tz: ZoneInfo) -> datetime:
    """The next local day's 9:00 (where a message held by the daily cap goes)."""
    return at_wall(now.astimezone(tz).date() + timedelta(days=1), text_window()[0], tz)


def refusal(lead: Lead, channel: str, consents: dict[str, Consent]) -> str | None:
    """Why a message on ``channel`` may not go to the lead: its address, opt-out or
    consent, then our own setup; None when it may."""
    return address_refusal(lead, channel) or consent_refusal(lead, channel, consents) or setup_refusal(channel)


def consent_refusal(lead: Lead, channel: str, consents: dict[str, Consent]) -> str | None:
    """Why the lead may not be messaged on ``channel`` now (opted out, consent withdrawn,
    no consent on record), or None. ``consents``: the lead's rows by channel."""
    if getattr(lead.contact, OPT_OUT_FIELDS[channel]):
        return f"The lead opted out of {Channel(channel).label.lower()}s."
    consent = consents.get(channel)
    if consent is not None and not consent.granted:
        return f"No consent for {Channel(channel).label.lower()}s ({consent.source})."
    if consent is None and channel not in settings.PLANS_IMPLIED_CONSENT:
        return f"No consent for {Channel(channel).label.lower()}s on record."
    return None


def address_refusal(lead: Lead, channel: str) -> str | None:
    contact = lead.contact
    if channel == Channel.EMAIL and not contact.email:
        return "The lead has no email address."
    if channel == Channel.TEXT and (not contact.phone or not contact.phone_is_valid):
        return "The lead has no valid phone number."
    return None


def setup_refusal(channel: str) -> str | None:
    """Why we cannot send on ``channel`` at all (texts without an SMS provider), or None."""
    if channel == Channel.TEXT and not sms_client.is_configured():
        return "Texts are not set up (SMS_ACCOUNT_SID, SMS_AUTH_TOKEN, SMS_FROM_NUMBER)."
    return None


def wait_end(step: PlanStep, *, now: datetime, tz: ZoneInfo) -> datetime:
    """When a wait step that starts at ``now`` ends: after ``wait_minutes``, or at the
    next ``wait_until_weekday`` ``wait_until_time`` lead-local (strictly after now)."""
    if step.wait_until_weekday is not None or step.wait_until_time is not None:
        wall = step.wait_until_time or time(9)
        local = now.astimezone(tz)
        for ahead in range(8):
            day = local.date() + timedelta(days=ahead)
            if step.wait_until_weekday is not None and day.weekday() != step.wait_until_weekday:
                continue
            candidate = at_wall(day, wall, tz)
            if candidate > now:
                return candidate
    return now + timedelta(minutes=step.wait_minutes or 0)
