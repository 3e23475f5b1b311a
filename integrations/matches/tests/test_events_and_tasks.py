"""The matching kept in step with leads (lead events) and with listing imports (after commit),
and its periodic sweep for lost messages."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from integrations import periodic
from integrations.market.models import ListingChange
from integrations.matches import tasks
from integrations.matches.models import ListingMatch, MatchReason, PendingLeadMatch, PreferenceIndex
from integrations.matches.tests.helpers import buyer, put_listing
from leads.core.services import LeadManagementService
from leads.models import LeadStatus
from leads.tests.lead_events import relay_recorded_events

pytestmark = pytest.mark.django_db

PREFERENCES = {
    "property_types": ["single_family"],
    "min_price": Decimal(400_000),
    "max_price": Decimal(600_000),
    "preferred_locations": ["Oakland"],
    "min_bedrooms": 3,
}


def new_lead(agent, **preferences):
    return LeadManagementService(agent).create_lead(
        {
            "contact": {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"},
            "lead_type": "buyer",
            "source": "referral",
            "assigned_to": agent,
            "preferences": PREFERENCES | preferences,
        }
    )


def relay(capture) -> None:
    with capture(execute=True):
        relay_recorded_events()


def test_a_new_lead_is_indexed_and_matched_against_the_active_listings(agent, django_capture_on_commit_callbacks):
    listing = put_listing("E1")
    tasks.sweep()  # the import's change: no lead yet

    lead = new_lead(agent)
    relay(django_capture_on_commit_callbacks)

    assert list(PreferenceIndex.objects.filter(lead=lead).values_list("location_key", flat=True)) == ["oakland"]
    match = ListingMatch.objects.get(lead=lead, listing=listing)
    assert match.reason == MatchReason.PREFERENCES and match.is_current
    assert not PendingLeadMatch.objects.exists()


def test_changed_preferences_move_the_index_and_the_matches(agent, django_capture_on_commit_callbacks):
    oakland, berkeley = put_listing("E2"), put_listing("E3", location="Berkeley", city="Berkeley")
    tasks.sweep()
    lead = new_lead(agent)
    relay(django_capture_on_commit_callbacks)

    LeadManagementService(agent).update_lead(lead.public_id, {"preferences": {"preferred_locations": ["Berkeley"]}})
    relay(django_capture_on_commit_callbacks)

    assert list(PreferenceIndex.objects.filter(lead=lead).values_list("location_key", flat=True)) == ["berkeley"]
    current = ListingMatch.objects.filter(lead=lead, is_current=True).values_list("listing_id", flat=True)
    assert list(current) == [berkeley.pk]
    assert ListingMatch.objects.get(lead=lead, listing=oakland).is_current is False


def test_a_lost_or_archived_lead_leaves_the_index_and_its_matches_end(
    agent, manager, django_capture_on_commit_callbacks
):
    lead = new_lead(agent)
    relay(django_capture_on_commit_callbacks)
    listing = put_listing("E4")
    tasks.sweep()
    assert ListingMatch.objects.get(lead=lead, listing=listing).is_current

    LeadManagementService(agent).change_status(lead.public_id, LeadStatus.LOST)
    relay(django_capture_on_commit_callbacks)

    assert not PreferenceIndex.objects.filter(lead=lead).exists()
    assert ListingMatch.objects.get(lead=lead, listing=listing).is_current is False

    LeadManagementService(agent).change_status(lead.public_id, LeadStatus.NURTURE)
    relay(django_capture_on_commit_callbacks)
    assert ListingMatch.objects.get(lead=lead, listing=listing).is_current

    LeadManagementService(manager).archive_lead(lead.public_id)
    relay(django_capture_on_commit_callbacks)
    assert not PreferenceIndex.objects.filter(lead=lead).exists()
    assert ListingMatch.objects.get(lead=lead, listing=listing).is_current is False


def test_an_update_of_other_fields_does_not_rematch(agent, django_capture_on_commit_callbacks):
    lead = new_lead(agent)
    relay(django_capture_on_commit_callbacks)

    LeadManagementService(agent).update_lead(lead.public_id, {"tags": ["vip"]})
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        relay_recorded_events()

    assert not PendingLeadMatch.objects.exists()
    assert not [callback for callback in callbacks if getattr(callback, "func", None) is tasks.dispatch_leads]


def test_a_listing_import_queues_the_matching_after_its_commit(django_capture_on_commit_callbacks):
    lead = buyer()

    with django_capture_on_commit_callbacks(execute=True):
        listing = put_listing("E5")

    assert ListingMatch.objects.get(lead=lead, listing=listing).reason == MatchReason.NEW
    assert not ListingChange.objects.filter(matched_at__isnull=True).exists()


def test_the_periodic_sweep_takes_what_lost_messages_left(django_capture_on_commit_callbacks):
    lead = buyer()
    listing = put_listing("E6")  # the listener's message "lost": no on-commit run
    PendingLeadMatch.objects.create(lead=lead, requested_at=timezone.now() - timedelta(minutes=5))

    result = periodic.run("sweep_listing_matches")

    assert result == {"changes": 1, "matched": 1, "pending_leads": 1}
    assert ListingMatch.objects.get(lead=lead, listing=listing).is_current
    assert not PendingLeadMatch.objects.exists()


def test_a_long_matching_task_hands_the_rest_to_a_new_task(monkeypatch):
    lead = buyer()
    for number in range(5):
        put_listing(f"T{number}")
    monkeypatch.setattr(tasks, "TASK_BATCH", 2)
    monkeypatch.setattr(tasks, "TASK_SECONDS", 0)  # each task: one batch, then the next task

    tasks.match_listing_changes.delay()

    assert ListingMatch.objects.filter(lead=lead).count() == 5
    assert not ListingChange.objects.filter(matched_at__isnull=True).exists()
