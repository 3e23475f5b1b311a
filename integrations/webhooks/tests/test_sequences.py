"""The sequences the hardening issue found losing events (issue 10, §2), delivered to
a real receiver: every event a committed save made reaches the subscriber, however
soon the next save comes. The old design sent events from the pipeline job's reason,
so a save that superseded a pending job took the earlier save's events with it."""

import pytest

from integrations.webhooks.models import DeliveryStatus
from integrations.webhooks.tests.saves import create_lead, deliveries_of
from leads.core.services import LeadManagementService
from leads.events.models import LeadEvent

pytestmark = pytest.mark.django_db


def received_ids(receiver) -> list[str]:
    return [request.json()["id"] for request in receiver.received]


def received_events(receiver) -> list[str]:
    return [request.json()["event"] for request in receiver.received]


def event_ids_of(lead) -> list[str]:
    """The ids of the lead's events, in the order its saves made them."""
    events = LeadEvent.objects.filter(lead=lead).order_by("pk")
    return [str(event_id) for event_id in events.values_list("event_id", flat=True)]


def test_a_lead_created_and_contacted_before_its_work_ran_delivers_every_event(
    agent, subscribe, receiver, django_capture_on_commit_callbacks
):
    # given a receiver subscribed to every event
    subscription = subscribe()
    service = LeadManagementService(agent)
    # when a lead is created and given a call at once, both saves committing before
    # any after-save work runs (the relay, the pipeline, the deliveries)
    with django_capture_on_commit_callbacks(execute=True):
        lead = create_lead(agent)
        service.add_interaction(lead.public_id, {"type": "call", "summary": "Called straight away"})
    # then the receiver got the creation too, with the interaction, the status move,
    # the update and the score of the newest version
    assert sorted(received_events(receiver)) == [
        "interaction.added",
        "lead.created",
        "lead.scored",
        "lead.status_changed",
        "lead.updated",
    ]
    # exactly the events the saves made, each once, in the order they were made
    assert received_ids(receiver) == event_ids_of(lead)
    assert received_events(receiver)[0] == "lead.created"
    scored = receiver.received[-1].json()
    assert (scored["event"], scored["version"]) == ("lead.scored", 2)
    assert {delivery.status for delivery in deliveries_of(subscription)} == {DeliveryStatus.DELIVERED}


def test_a_status_patch_followed_at_once_by_a_tags_patch_delivers_the_status_change(
    manager, api_client, subscribe, receiver, django_capture_on_commit_callbacks
):
    # given a lead whose creation was delivered, and a receiver subscribed to every event
    subscribe()
    with django_capture_on_commit_callbacks(execute=True):
        lead = create_lead(manager)
    delivered_before = len(receiver.received)
    client = api_client(manager)
    # when a status PATCH is followed at once by a tags PATCH, before any after-save work runs
    with django_capture_on_commit_callbacks(execute=True):
        status = client.patch(f"/api/v2/leads/{lead.public_id}", {"status": "qualified"}, format="json")
        tags = client.patch(f"/api/v2/leads/{lead.public_id}", {"tags": ["hot"]}, format="json")
    assert (status.status_code, tags.status_code) == (200, 200), (status.content, tags.content)
    # then the status change was delivered, with both updates and the score of the newest version
    later = receiver.received[delivered_before:]
    assert sorted(request.json()["event"] for request in later) == [
        "lead.scored",
        "lead.status_changed",
        "lead.updated",
        "lead.updated",
    ]
    (status_change,) = (request.json() for request in later if request.json()["event"] == "lead.status_changed")
    assert status_change["status_change"]["from"] == "new"
    assert status_change["status_change"]["to"] == "qualified"
    assert status_change["version"] == 2
    # and the receiver has exactly the events the saves made, in order
    assert received_ids(receiver) == event_ids_of(lead)


def test_only_the_events_subscribed_to_are_delivered_and_all_of_them(
    manager, api_client, subscribe, receiver, django_capture_on_commit_callbacks
):
    # given a receiver subscribed to creations and status changes only
    subscribe("lead.created", "lead.status_changed")
    client = api_client(manager)
    # when a lead is created, moved twice and tagged, in quick succession
    with django_capture_on_commit_callbacks(execute=True):
        lead = create_lead(manager)
        for body in ({"status": "contacted"}, {"status": "qualified"}, {"tags": ["hot"]}):
            assert client.patch(f"/api/v2/leads/{lead.public_id}", body, format="json").status_code == 200
    # then the receiver's event ids are exactly those of the subscribed events the saves made
    subscribed = LeadEvent.objects.filter(lead=lead, kind__in=["lead.created", "lead.status_changed"]).order_by("pk")
    assert received_ids(receiver) == [str(event_id) for event_id in subscribed.values_list("event_id", flat=True)]
    assert received_events(receiver) == ["lead.created", "lead.status_changed", "lead.status_changed"]
    moves = [request.json()["status_change"] for request in receiver.received[1:]]
    assert [(move["from"], move["to"]) for move in moves] == [("new", "contacted"), ("contacted", "qualified")]
