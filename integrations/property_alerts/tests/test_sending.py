"""Sending alerts over a real SMTP server on loopback: what the email holds, once per
listing (again only after a price drop), instant / daily / weekly / off, consent and
opt-outs, a failed send, and the cost of a digest run."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.mail.backends.smtp import EmailBackend
from django.utils import timezone

from integrations.market.models import ListingChange, ListingChangeKind
from integrations.matches.models import ListingMatch, MatchReason
from integrations.plans.models import Channel, Consent
from integrations.property_alerts import sending, services, tasks
from integrations.property_alerts.models import AlertMessage, AlertStatus, AlertSubscription
from integrations.property_alerts.tests.conftest import links_in, parts, received
from integrations.property_alerts.tests.factories import ListingFactory, MatchFactory, SubscriptionFactory
from leads.models import Contact, LeadType, Team
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

# A Saturday (PROPERTY_ALERTS_WEEKLY_DAY = 5) at 09:30 UTC, after the 08:00 digest hour.
SATURDAY = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)


def test_an_instant_alert_lists_price_rooms_photo_and_a_link(smtp_inbox, match, listing):
    # when the instant run goes
    result = sending.send_instant_alerts(timezone.now())

    # then one email went to the lead with the listing's facts, its photo and a tracked link
    assert result["sent"] == 1
    (email,) = received(smtp_inbox)
    assert email["To"] == "kat@example.com"
    assert email["Subject"] == "New match: 12 Elm Street, Austin, 78704, $525,000"
    assert email["Reply-To"].startswith("reply+lead_")
    assert email["List-Unsubscribe"].strip().startswith("<http://testserver/unsubscribe/")
    text, html = parts(email)
    for body in (text, html):
        assert "$525,000" in body
        assert "3 bd · 2 ba · 1,450 sq ft" in body
        assert len(links_in(body, "c")) >= 1
        assert links_in(body, "f")
    assert f'src="{listing.photo_urls[0]}"' in html
    assert links_in(html, "o")
    # and the message and the match record it, in the same run
    message = AlertMessage.objects.get()
    assert (message.status, message.listing_count, message.frequency) == (AlertStatus.SENT, 1, "instant")
    assert message.message_id and message.message_id == email["Message-ID"]
    match.refresh_from_db()
    assert match.alerted_at is not None and match.alerted_price == Decimal("525000")


def test_the_same_listing_is_never_sent_twice(smtp_inbox, match):
    sending.send_instant_alerts(timezone.now())
    # the matching touches it again (say a detail changed) at the same price
    ListingMatch.objects.filter(pk=match.pk).update(matched_at=timezone.now() + timedelta(minutes=5))

    result = sending.send_instant_alerts(timezone.now() + timedelta(minutes=10))

    assert result["sent"] == 0
    assert len(smtp_inbox.envelopes) == 1


def test_a_price_drop_sends_the_listing_again_with_the_old_price(smtp_inbox, match, listing):
    sending.send_instant_alerts(timezone.now())
    # the price drops and the matching marks it matched again
    listing.price = Decimal("499000")
    listing.save()
    later = timezone.now() + timedelta(minutes=5)
    ListingMatch.objects.filter(pk=match.pk).update(matched_at=later, reason=MatchReason.PRICE_DROP, price=499000)

    result = sending.send_instant_alerts(later + timedelta(minutes=1))

    assert result["sent"] == 1
    second = received(smtp_inbox)[1]
    assert second["Subject"].startswith("Price drop: 12 Elm Street")
    text, html = parts(second)
    assert "$499,000" in text and "price dropped from $525,000" in text
    assert "price dropped from $525,000" in html
    match.refresh_from_db()
    assert match.alerted_price == Decimal("499000")


def test_a_new_price_drop_match_names_the_price_it_dropped_from(smtp_inbox, instant_buyer):
    listing = ListingFactory(price=410000)
    ListingChange.objects.create(
        listing=listing,
        kind=ListingChangeKind.PRICE_DROP,
        old_price=450000,
        new_price=410000,
        new_status="active",
        changed_at=timezone.now(),
    )
    MatchFactory(lead=instant_buyer, listing=listing, reason=MatchReason.PRICE_DROP)

    sending.send_instant_alerts(timezone.now())

    text, _ = parts(received(smtp_inbox)[0])
    assert "$410,000 (price dropped from $450,000)" in text


def test_at_most_the_best_ten_go_in_one_email(smtp_inbox, instant_buyer, settings):
    settings.PROPERTY_ALERTS_MAX_LISTINGS = 10
    for score in range(30, 90, 5):  # twelve matches
        MatchFactory(lead=instant_buyer, listing=ListingFactory(address=f"Score {score} Road"), score=score)

    sending.send_instant_alerts(timezone.now())

    (email,) = received(smtp_inbox)
    text, _ = parts(email)
    assert email["Subject"] == "10 homes that match your search"
    assert text.index("Score 85 Road") < text.index("Score 40 Road")
    assert "Score 35 Road" not in text and "Score 30 Road" not in text
    assert ListingMatch.objects.filter(alerted_at__isnull=True).count() == 2


def test_daily_digest_goes_once_a_day_at_the_digest_hour(smtp_inbox, buyer, settings):
    settings.PROPERTY_ALERTS_DIGEST_HOUR = 8
    SubscriptionFactory(lead=buyer, frequency="daily", last_run_at=SATURDAY - timedelta(days=1))
    MatchFactory(lead=buyer)

    # before the hour: nothing; the instant run ignores it too
    assert sending.send_digests(SATURDAY.replace(hour=7))["daily"]["sent"] == 0
    assert sending.send_instant_alerts(SATURDAY)["sent"] == 0
    # at the hour: the digest
    assert sending.send_digests(SATURDAY)["daily"]["sent"] == 1
    # a new match the same day waits for tomorrow's
    MatchFactory(lead=buyer)
    assert sending.send_digests(SATURDAY + timedelta(hours=3))["daily"]["sent"] == 0
    assert sending.send_digests(SATURDAY + timedelta(days=1))["daily"]["sent"] == 1
    assert len(smtp_inbox.envelopes) == 2


def test_the_digest_hour_is_the_leads_own(smtp_inbox, settings):
    settings.PROPERTY_ALERTS_DIGEST_HOUR = 8
    buyer = LeadFactory(team=Team.objects.create(name="West", time_zone="America/Los_Angeles"))
    # its last digest: Friday 09:00 in Los Angeles (17:00 UTC)
    SubscriptionFactory(lead=buyer, frequency="daily", last_run_at=datetime(2026, 12, 4, 17, tzinfo=UTC))
    MatchFactory(lead=buyer)

    # 09:30 UTC is 01:30 in Los Angeles: its digest hour has not come
    assert sending.send_digests(SATURDAY)["daily"]["sent"] == 0
    # 16:30 UTC is 08:30 there
    assert sending.send_digests(SATURDAY + timedelta(hours=7))["daily"]["sent"] == 1


def test_weekly_digest_goes_on_the_weekly_day_only(smtp_inbox, buyer, settings):
    settings.PROPERTY_ALERTS_WEEKLY_DAY = 5
    SubscriptionFactory(lead=buyer, frequency="weekly", last_run_at=SATURDAY - timedelta(days=6))
    MatchFactory(lead=buyer)

    assert sending.send_digests(SATURDAY - timedelta(days=1))["weekly"]["sent"] == 0  # Friday
    assert sending.send_digests(SATURDAY)["weekly"]["sent"] == 1
    MatchFactory(lead=buyer)
    assert sending.send_digests(SATURDAY + timedelta(days=3))["weekly"]["sent"] == 0
    assert sending.send_digests(SATURDAY + timedelta(days=7))["weekly"]["sent"] == 1
    assert [message.frequency for message in AlertMessage.objects.all()] == ["weekly", "weekly"]


def test_off_sends_nothing(smtp_inbox, buyer):
    SubscriptionFactory(lead=buyer, frequency="off")
    MatchFactory(lead=buyer)

    assert sending.send_instant_alerts(SATURDAY)["sent"] == 0
    assert sending.send_digests(SATURDAY) == {
        "daily": {"sent": 0, "skipped": 0, "failed": 0, "slowed": 0},
        "weekly": {"sent": 0, "skipped": 0, "failed": 0, "slowed": 0},
    }
    assert smtp_inbox.envelopes == [] and not AlertMessage.objects.exists()


def test_a_lead_with_matches_gets_the_default_from_its_next_digest_hour(smtp_inbox, buyer, settings):
    settings.PROPERTY_ALERTS_DEFAULT_FREQUENCY = "daily"
    seller = LeadFactory(lead_type=LeadType.SELLER)
    MatchFactory(lead=buyer)
    MatchFactory(lead=seller)

    assert sending.send_digests(SATURDAY)["daily"]["sent"] == 0  # the settings start now

    assert AlertSubscription.objects.get(lead=buyer).frequency == "daily"
    assert AlertSubscription.objects.get(lead=seller).frequency == "off"
    assert sending.send_digests(SATURDAY + timedelta(days=1))["daily"]["sent"] == 1
    assert [envelope.rcpt_tos for envelope in smtp_inbox.envelopes] == [[buyer.contact.email]]


def test_an_opted_out_lead_is_skipped_with_the_reason_and_not_again(smtp_inbox, match, instant_buyer):
    Contact.objects.filter(lead=instant_buyer).update(email_opt_out=True)

    assert sending.send_instant_alerts(timezone.now())["skipped"] == 1
    assert sending.send_instant_alerts(timezone.now() + timedelta(minutes=2))["skipped"] == 0

    assert smtp_inbox.envelopes == []
    message = AlertMessage.objects.get()
    assert (message.status, message.reason) == (AlertStatus.SKIPPED, "The lead opted out of emails.")
    match.refresh_from_db()
    assert match.alerted_at is None  # not sent: still due if the lead opts in again


def test_a_lead_without_email_consent_is_skipped(smtp_inbox, match, instant_buyer):
    Consent.objects.create(
        lead=instant_buyer, channel=Channel.EMAIL, granted=False, source="asked us to stop", at=timezone.now()
    )

    assert sending.send_instant_alerts(timezone.now())["skipped"] == 1

    assert smtp_inbox.envelopes == []
    assert AlertMessage.objects.get().reason == "No consent for emails (asked us to stop)."


def test_an_unreachable_mail_server_fails_the_alert_and_it_goes_at_the_next_run(settings, match, smtp_inbox):
    port = settings.EMAIL_PORT
    settings.EMAIL_PORT = 1  # nothing listens there

    assert sending.send_instant_alerts(timezone.now())["failed"] == 1
    match.refresh_from_db()
    assert match.alerted_at is None
    assert AlertMessage.objects.get().status == AlertStatus.FAILED

    settings.EMAIL_PORT = port
    assert sending.send_instant_alerts(timezone.now())["sent"] == 1


def test_a_digest_run_of_fifty_leads_costs_a_bounded_number_of_queries(
    smtp_inbox, django_assert_max_num_queries, settings
):
    settings.PROPERTY_ALERTS_BATCH_SIZE = 200
    leads = LeadFactory.create_batch(50)
    for lead in leads:
        SubscriptionFactory(lead=lead, frequency="daily", last_run_at=SATURDAY - timedelta(days=1))
        MatchFactory.create_batch(2, lead=lead)

    # new settings, the zones, then per frequency the candidates, and per chunk: the claim
    # (select, update, in a savepoint), the rows, their matches, their consents, the records
    # (settings locked, messages, matches, settings, in a savepoint). Fifty leads cost what five do.
    with django_assert_max_num_queries(18):
        result = sending.send_digests(SATURDAY)

    assert result["daily"]["sent"] == 50
    assert len(smtp_inbox.envelopes) == 50
    assert AlertMessage.objects.filter(status=AlertStatus.SENT).count() == 50
    assert not ListingMatch.objects.filter(alerted_at__isnull=True).exists()


def test_an_instant_lead_gets_the_rest_of_its_matches_at_the_next_run(smtp_inbox, instant_buyer, settings):
    settings.PROPERTY_ALERTS_MAX_LISTINGS = 2
    MatchFactory.create_batch(3, lead=instant_buyer)

    assert sending.send_instant_alerts(timezone.now())["sent"] == 1
    assert sending.send_instant_alerts(timezone.now() + timedelta(minutes=2))["sent"] == 1
    assert sending.send_instant_alerts(timezone.now() + timedelta(minutes=4))["sent"] == 0

    assert [message.listing_count for message in AlertMessage.objects.order_by("pk")] == [2, 1]


def test_an_opted_out_daily_lead_is_recorded_skipped_once_for_the_same_homes(smtp_inbox, buyer):
    SubscriptionFactory(lead=buyer, frequency="daily", last_run_at=SATURDAY - timedelta(days=1))
    MatchFactory(lead=buyer, first_matched_at=SATURDAY - timedelta(hours=1))
    Contact.objects.filter(lead=buyer).update(email_opt_out=True)

    assert sending.send_digests(SATURDAY)["daily"]["skipped"] == 1
    assert sending.send_digests(SATURDAY + timedelta(days=1))["daily"]["skipped"] == 0
    MatchFactory(lead=buyer, first_matched_at=SATURDAY + timedelta(days=1, hours=2))
    assert sending.send_digests(SATURDAY + timedelta(days=2))["daily"]["skipped"] == 1

    assert AlertMessage.objects.filter(status=AlertStatus.SKIPPED).count() == 2
    assert smtp_inbox.envelopes == []


def test_a_lead_another_run_holds_is_left_to_it(smtp_inbox, match, instant_buyer):
    # another run claimed the lead a moment ago (and is sending to it)
    AlertSubscription.objects.filter(lead=instant_buyer).update(claimed_until=timezone.now() + timedelta(minutes=5))

    assert sending.send_instant_alerts(timezone.now())["sent"] == 0
    assert smtp_inbox.envelopes == []
    # its claim lapses (that run died): the next run sends
    assert sending.send_instant_alerts(timezone.now() + timedelta(minutes=6))["sent"] == 1


def test_the_matching_can_have_instant_alerts_sent_right_after_it_commits(
    smtp_inbox, match, instant_buyer, django_capture_on_commit_callbacks
):
    other = SubscriptionFactory(frequency="instant").lead
    MatchFactory(lead=other)

    with django_capture_on_commit_callbacks(execute=True):
        tasks.send_instant_after_commit([instant_buyer.pk])

    assert [envelope.rcpt_tos for envelope in smtp_inbox.envelopes] == [[instant_buyer.contact.email]]


class AgentActsMeanwhile(EmailBackend):
    """The real SMTP backend; the agent sets the lead's alerts while the run hands an email over."""

    def __init__(self, lead, **kwargs):
        super().__init__(**kwargs)
        self.lead = lead

    def send_messages(self, email_messages):
        services.set_frequency(lead=self.lead, frequency="weekly", by="agent")
        return super().send_messages(email_messages)


def test_a_frequency_set_while_a_run_sends_is_kept(smtp_inbox, match, instant_buyer):
    subscription = AlertSubscription.objects.get(lead=instant_buyer)

    result = sending.send_chunk(
        [subscription.pk], frequency="instant", now=timezone.now(), connection=AgentActsMeanwhile(instant_buyer)
    )

    assert result.sent == 1 and len(smtp_inbox.envelopes) == 1
    subscription.refresh_from_db()
    assert (subscription.frequency, subscription.effective_frequency) == ("weekly", "weekly")
    assert (subscription.consecutive_unopened, subscription.claimed_until) == (1, None)
