"""The alert runs: instant (a periodic job every two minutes: the leads with a match newer
than their last alert) and the daily and weekly digests (a periodic job every fifteen
minutes: the leads whose digest hour, ``PROPERTY_ALERTS_DIGEST_HOUR`` in the lead's
zone, has come since their last digest; weekly on ``PROPERTY_ALERTS_WEEKLY_DAY``).

A run takes the leads in chunks: claims their settings rows (a second run skips them),
applies frequency control, reads their due matches (best first, at most
``PROPERTY_ALERTS_MAX_LISTINGS``), their consent and opt-out as now, and sends one email
per lead over one SMTP connection (``integrations.plans.delivery.send_email``, the path of
every automated email). Then one transaction per chunk records the ``AlertMessage`` rows
and marks the sent matches ``alerted_at`` / ``alerted_price``
(``integrations.matches.services.matches_alerted``). A lead refused by its consent or
opt-out gets a skipped message with the reason; a failed send is recorded and
tried again at the next run. A crash after the server took an email and before the chunk
was recorded sends it again at the next run (at least once)."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import make_msgid
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from integrations.http_delivery import DeliveryError, TransientDeliveryError
from integrations.market.models import ListingChange, ListingChangeKind
from integrations.matches import services as matches_services
from integrations.matches.models import ListingMatch
from integrations.plans import delivery, rules
from integrations.plans.models import Channel, Consent
from integrations.plans.reply_address import reply_address
from integrations.property_alerts import control, rendering, selectors
from integrations.property_alerts.models import AlertMessage, AlertStatus, AlertSubscription, Frequency
from integrations.workflows.unsubscribe import unsubscribe_url
from leads.accounts import availability
from leads.models import Team

SUBSCRIPTION_FIELDS = [
    "effective_frequency",
    "consecutive_unopened",
    "paused_at",
    "note",
    "note_at",
    "last_run_at",
    "claimed_until",
    "updated_at",
]


@dataclass
class RunResult:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    slowed: int = 0

    def add(self, other: "RunResult") -> None:
        self.sent += other.sent
        self.skipped += other.skipped
        self.failed += other.failed
        self.slowed += other.slowed

    def as_dict(self) -> dict:
        return {"sent": self.sent, "skipped": self.skipped, "failed": self.failed, "slowed": self.slowed}


def send_instant_alerts(now: datetime | None = None) -> dict:
    """The periodic job of instant alerts."""
    now = now or timezone.now()
    return run(Frequency.INSTANT, now=now).as_dict()


def send_digests(now: datetime | None = None) -> dict:
    """The periodic job of the daily and weekly digests."""
    now = now or timezone.now()
    ensure_subscriptions(now=now)
    return {
        frequency: run(frequency, now=now, ensure=False).as_dict() for frequency in (Frequency.DAILY, Frequency.WEEKLY)
    }


def run(frequency: str, *, now: datetime, ensure: bool = True, lead_ids: list[int] | None = None) -> RunResult:
    """Send the alerts due at ``now`` for ``frequency`` (to ``lead_ids`` only, when given),
    chunk after chunk, first giving leads with matches and no settings their default
    (unless ``ensure`` is False)."""
    if ensure:
        ensure_subscriptions(now=now)
    candidates = selectors.candidate_subscriptions(frequency, instant=frequency == Frequency.INSTANT)
    if lead_ids is not None:
        candidates = candidates.filter(lead_id__in=lead_ids)
    if frequency != Frequency.INSTANT:
        candidates = candidates.filter(digest_due(frequency, now=now))
    ids = list(candidates.values_list("pk", flat=True))
    result = RunResult()
    size = max(1, settings.PROPERTY_ALERTS_BATCH_SIZE)
    with delivery.shared_mail_connection() as connection:
        for start in range(0, len(ids), size):
            result.add(send_chunk(ids[start : start + size], frequency=frequency, now=now, connection=connection))
    return result


def ensure_subscriptions(*, now: datetime) -> int:
    """Settings rows for leads that have matches and none yet, at their default frequency.
    A digest lead's first digest comes at its next digest hour; an instant one's at once."""
    size = max(1, settings.PROPERTY_ALERTS_BATCH_SIZE) * 10
    leads = selectors.leads_without_subscription(size)
    rows = []
    for lead in leads:
        frequency = selectors.default_frequency(lead)
        rows.append(
            AlertSubscription(
                lead=lead,
                frequency=frequency,
                effective_frequency=frequency,
                set_at=now,
                last_run_at=None if frequency == Frequency.INSTANT else now,
            )
        )
    AlertSubscription.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def period_start(frequency: str, *, now: datetime, zone: ZoneInfo) -> datetime:
    """The latest digest time at or before ``now`` in ``zone``: today's digest hour (or
    yesterday's before it); for weekly the latest such time on the weekly day."""
    hour = time(min(max(settings.PROPERTY_ALERTS_DIGEST_HOUR, 0), 23))
    local = now.astimezone(zone)
    day = local.date()
    for _ in range(8):
        start = rules.at_wall(day, hour, zone)
        weekday_fits = frequency != Frequency.WEEKLY or day.weekday() == settings.PROPERTY_ALERTS_WEEKLY_DAY % 7
        if start <= now and weekday_fits:
            return start
        day -= timedelta(days=1)
    return now - timedelta(days=7)


def digest_due(frequency: str, *, now: datetime) -> Q:
    """Subscriptions whose last run is before their zone's latest digest time (one
    condition per zone the teams use, and the site's for leads without a team)."""
    by_zone: dict[str, list[int]] = defaultdict(list)
    for team_id, zone_name in Team.objects.values_list("pk", "time_zone"):
        by_zone[zone_name or ""].append(team_id)
    site_start = period_start(frequency, now=now, zone=availability.team_zone(None))
    due = Q(lead__team__isnull=True) & (Q(last_run_at__isnull=True) | Q(last_run_at__lt=site_start))
    for zone_name, team_ids in by_zone.items():
        start = period_start(frequency, now=now, zone=availability.zone(zone_name))
        due |= Q(lead__team_id__in=team_ids) & (Q(last_run_at__isnull=True) | Q(last_run_at__lt=start))
    return due


@dataclass
class _Chunk:
    messages: list[AlertMessage] = field(default_factory=list)
    alerted: list[ListingMatch] = field(default_factory=list)
    subscriptions: list[AlertSubscription] = field(default_factory=list)
    result: RunResult = field(default_factory=RunResult)
    unreachable: bool = False  # the mail server could not be reached: the rest wait for the next run
    claimed_state: dict[int, tuple] = field(default_factory=dict)  # each row's settings as claimed
    sent: set[int] = field(default_factory=set)  # the settings rows whose lead was sent an alert


def send_chunk(subscription_ids: list[int], *, frequency: str, now: datetime, connection) -> RunResult:
    """Claim, send and record one chunk of leads (see the module's docstring)."""
    subscriptions = _claim(subscription_ids, frequency=frequency, now=now)
    if not subscriptions:
        return RunResult()
    chunk = _Chunk(subscriptions=subscriptions)
    chunk.claimed_state = {subscription.pk: _settings_state(subscription) for subscription in subscriptions}
    sending = []
    for subscription in subscriptions:
        subscription.claimed_until = None
        if control.step_down_if_ignored(subscription, now=now):
            chunk.result.slowed += 1
        if subscription.paused_at is None and subscription.effective_frequency == frequency:
            sending.append(subscription)
    lead_ids = [subscription.lead_id for subscription in sending]
    matches, more = _due_matches(lead_ids)
    consents = {
        consent.lead_id: {consent.channel: consent}
        for consent in Consent.objects.filter(lead_id__in=lead_ids, channel=Channel.EMAIL)
    }
    cards = rendering.ListingCards(_dropped_from([match for rows in matches.values() for match in rows]))
    templates = rendering.AlertTemplates()
    for subscription in sending:
        rows = matches.get(subscription.lead_id)
        if rows and not chunk.unreachable:
            consent = consents.get(subscription.lead_id, {})
            sent = _alert(chunk, subscription, rows, consent, cards, templates, now, connection)
            if sent and subscription.lead_id in more and frequency == Frequency.INSTANT:
                subscription.last_run_at = None  # the rest at the next run, not at the next new match
    _record(chunk, now=now)
    return chunk.result


def _claim(ids: list[int], *, frequency: str, now: datetime) -> list[AlertSubscription]:
    """The chunk's settings rows no other run holds, claimed for PROPERTY_ALERTS_CLAIM_SECONDS."""
    until = now + timedelta(seconds=settings.PROPERTY_ALERTS_CLAIM_SECONDS)
    with transaction.atomic():
        claimed = list(
            AlertSubscription.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk__in=ids, effective_frequency=frequency, paused_at__isnull=True)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
            .values_list("pk", flat=True)
        )
        AlertSubscription.objects.filter(pk__in=claimed).update(claimed_until=until)
    return list(
        AlertSubscription.objects.filter(pk__in=claimed)
        .select_related("lead__contact", "lead__team", "lead__assigned_to")
        .order_by("pk")
    )


def _due_matches(lead_ids: list[int]) -> tuple[dict[int, list[ListingMatch]], set[int]]:
    """Each lead's due matches, best first, at most PROPERTY_ALERTS_MAX_LISTINGS, and the
    leads that have more than that (the rest go at the next run)."""
    limit = max(1, settings.PROPERTY_ALERTS_MAX_LISTINGS)
    found: dict[int, list[ListingMatch]] = defaultdict(list)
    more: set[int] = set()
    rows = (
        selectors.due_matches()
        .filter(lead_id__in=lead_ids)
        .select_related("listing")
        .order_by("lead_id", "-score", "-matched_at", "pk")
    )
    for match in rows:
        if len(found[match.lead_id]) < limit:
            found[match.lead_id].append(match)
        else:
            more.add(match.lead_id)
    return found, more


def _dropped_from(matches: list[ListingMatch]) -> dict[int, object]:
    """The price each price-dropped listing (never alerted) dropped from: its latest drop's old price."""
    ids = {match.listing_id for match in matches if match.reason == "price_drop" and match.alerted_price is None}
    if not ids:
        return {}
    drops = ListingChange.objects.filter(listing_id__in=ids, kind=ListingChangeKind.PRICE_DROP).order_by(
        "listing_id", "changed_at", "pk"
    )
    return {listing_id: old for listing_id, old in drops.values_list("listing_id", "old_price") if old is not None}


def _snapshot(rows: list[ListingMatch], cards: list[rendering.Card]) -> list[dict]:
    return [
        {"match": match.pk, "listing": match.listing_id, "price": str(match.listing.price), "old_price": card.old_price}
        for match, card in zip(rows, cards, strict=True)
    ]


def _alert(chunk, subscription, rows, consents, cards, templates, now, connection) -> bool:
    """Send one lead its alert (or record why not); True when it was sent."""
    lead = subscription.lead
    described = [cards.card(match) for match in rows]
    message = AlertMessage(
        lead=lead,
        frequency=subscription.effective_frequency,
        listings=_snapshot(rows, described),
        listing_count=len(rows),
        sent_at=now,
    )
    refusal = rules.address_refusal(lead, Channel.EMAIL) or rules.consent_refusal(lead, Channel.EMAIL, consents)
    if refusal:
        # recorded when there is something new to tell (not again each digest for the same homes)
        if subscription.last_run_at is None or any(match.matched_at > subscription.last_run_at for match in rows):
            message.status, message.reason = AlertStatus.SKIPPED, refusal[:300]
            chunk.messages.append(message)
            chunk.result.skipped += 1
        subscription.last_run_at = now
        return False
    agent = lead.assigned_to
    unsubscribe = unsubscribe_url(lead=lead, channel="email")
    subject, text, html = rendering.render(
        templates=templates,
        cards=described,
        message_key=str(message.key),
        frequency=message.frequency,
        first_name=lead.contact.first_name,
        agent_name=(agent.get_full_name() or agent.get_username()) if agent else "",
        public_id=lead.public_id,
        unsubscribe_link=unsubscribe,
    )
    message.subject, message.message_id = subject, make_msgid(domain=settings.PLANS_REPLY_DOMAIN)
    headers = {
        "Message-ID": message.message_id,
        "List-Unsubscribe": f"<{unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "X-Property-Alert": str(message.key),
    }
    try:
        delivery.send_email(
            subject=subject,
            text=text,
            html=html,
            to=lead.contact.email,
            reply_to=reply_address(lead.public_id),
            headers=headers,
            connection=connection,
        )
    except DeliveryError as error:
        message.status, message.reason = AlertStatus.FAILED, str(error)[:300]
        chunk.messages.append(message)
        chunk.result.failed += 1
        chunk.unreachable = isinstance(error, TransientDeliveryError)
        return False
    message.status = AlertStatus.SENT
    subscription.last_run_at = now
    subscription.consecutive_unopened += 1
    chunk.alerted.extend(rows)
    chunk.messages.append(message)
    chunk.sent.add(subscription.pk)
    chunk.result.sent += 1
    return True


def _settings_state(subscription: AlertSubscription) -> tuple:
    """What the agent, the lead or an open may change while a run sends (see ``_record``)."""
    return (
        subscription.frequency,
        subscription.effective_frequency,
        subscription.paused_at,
        subscription.consecutive_unopened,
        subscription.set_at,
    )


def _record(chunk: _Chunk, *, now: datetime) -> None:
    """The chunk's messages, the matches they sent and the settings rows (released), in one
    transaction. A settings row changed meanwhile (the agent or the lead set a frequency, the
    lead opened an alert) keeps that change: only the run's own facts are added to it."""
    with transaction.atomic():
        current = {
            row.pk: row
            for row in AlertSubscription.objects.select_for_update().filter(
                pk__in=[subscription.pk for subscription in chunk.subscriptions]
            )
        }
        for subscription in chunk.subscriptions:
            subscription.updated_at = now
            row = current.get(subscription.pk)
            if row is not None and _settings_state(row) != chunk.claimed_state[subscription.pk]:
                sent = subscription.pk in chunk.sent
                subscription.effective_frequency, subscription.paused_at = row.effective_frequency, row.paused_at
                subscription.note, subscription.note_at = row.note, row.note_at
                subscription.consecutive_unopened = row.consecutive_unopened + (1 if sent else 0)
        AlertMessage.objects.bulk_create(chunk.messages)
        matches_services.matches_alerted([match.pk for match in chunk.alerted], at=now)
        AlertSubscription.objects.bulk_update(chunk.subscriptions, SUBSCRIPTION_FIELDS, batch_size=500)
