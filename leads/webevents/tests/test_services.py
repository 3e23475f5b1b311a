"""record_web_event: stored once per sender's event_id, a lead event per call, the
lead's version left alone, bad values refused with nothing stored."""

from datetime import timedelta

import pytest
from django.utils import timezone

from leads.errors import Conflict, ValidationFailed
from leads.events.models import VERSION_EVENTS, LeadEvent, LeadEventKind
from leads.tests.factories import LeadFactory, UserFactory
from leads.webevents.models import WebEvent, WebEventKind
from leads.webevents.services import record_web_event

pytestmark = pytest.mark.django_db


def _view(lead, **overrides):
    values = {
        "lead": lead,
        "kind": WebEventKind.LISTING_VIEWED,
        "occurred_at": timezone.now() - timedelta(minutes=3),
        "event_id": "evt-1",
        "listing_ref": "MLS123",
    }
    return record_web_event(**(values | overrides))


def test_an_event_is_stored_with_one_lead_event_and_the_version_unchanged(django_capture_on_commit_callbacks):
    # given a lead at version 1
    lead = LeadFactory()
    version = lead.version
    # when a listing view is recorded
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        event, created = _view(lead)
    # then it is stored, a lead.web_activity event is recorded and queued for relay
    assert created is True
    assert event.pk and event.lead_id == lead.pk and event.listing_ref == "MLS123" and event.source == "idx"
    lead_events = list(LeadEvent.objects.filter(lead=lead))
    assert [e.kind for e in lead_events] == [LeadEventKind.LEAD_WEB_ACTIVITY]
    assert lead_events[0].data == {"web_event_ids": [event.pk], "kinds": ["listing_viewed"]}
    assert lead_events[0].lead_version == version
    assert len(callbacks) == 1
    lead.refresh_from_db()
    assert lead.version == version
    assert LeadEventKind.LEAD_WEB_ACTIVITY not in VERSION_EVENTS


def test_a_repeated_event_id_returns_the_stored_event_and_records_nothing():
    lead = LeadFactory()
    first, _ = _view(lead)
    again, created = _view(lead, kind=WebEventKind.LISTING_SAVED, listing_ref="OTHER")
    assert created is False
    assert again.pk == first.pk and again.kind == WebEventKind.LISTING_VIEWED
    assert WebEvent.objects.count() == 1
    assert LeadEvent.objects.filter(lead=lead, kind=LeadEventKind.LEAD_WEB_ACTIVITY).count() == 1


def test_event_ids_are_per_sender():
    lead = LeadFactory()
    site_a, site_b = UserFactory(username="idx_a"), UserFactory(username="idx_b")
    _view(lead, actor=site_a)
    _, created = _view(lead, actor=site_b)
    _, created_system = _view(lead)
    assert created and created_system
    assert WebEvent.objects.count() == 3


def test_an_event_id_reused_for_another_lead_is_a_conflict():
    _view(LeadFactory())
    other = LeadFactory()
    with pytest.raises(Conflict):
        _view(other)
    assert not WebEvent.objects.filter(lead=other).exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "listing_liked"}, "kind"),
        ({"occurred_at": timezone.now() + timedelta(hours=1)}, "occurred_at"),
        ({"occurred_at": timezone.now() - timedelta(days=400)}, "occurred_at"),
        ({"occurred_at": None}, "occurred_at"),
        ({"data": {"blob": "x" * 5000}}, "data"),
        ({"listing_url": "javascript:alert(1)"}, "listing_url"),
        ({"page_url": "not a url"}, "page_url"),
        ({"event_id": ""}, "event_id"),
        ({"event_id": "has spaces in it"}, "event_id"),
        ({"listing_ref": ""}, "listing_ref"),
        ({"kind": WebEventKind.SEARCH_SAVED, "search": None}, "search"),
        ({"source": "Not A Source!"}, "source"),
    ],
)
def test_bad_values_are_refused_and_nothing_is_stored(overrides, field):
    lead = LeadFactory()
    with pytest.raises(ValidationFailed) as raised:
        _view(lead, **overrides)
    assert field in raised.value.fields
    assert not WebEvent.objects.exists()
    assert not LeadEvent.objects.filter(lead=lead).exists()


def test_an_alert_click_from_the_alerts_code():
    lead = LeadFactory()
    event, created = record_web_event(
        lead=lead,
        kind=WebEventKind.ALERT_CLICKED,
        occurred_at=timezone.now(),
        event_id="alert-17-click-MLS9",
        listing_ref="MLS9",
        source="alert",
    )
    assert created and event.sender_key == "system" and event.source == "alert"
