"""The relay of a new lead goes ahead of the after-save work and carries only its own
events; any other relay sweeps up what else is waiting (leads.events.tasks)."""

import pytest

from leads.core.services import LeadManagementService
from leads.events.models import LeadEvent
from leads.events.tasks import relay_lead_events
from leads.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def waiting_ids() -> set[int]:
    return set(LeadEvent.objects.filter(relayed_at__isnull=True).values_list("pk", flat=True))


def two_new_leads():
    service = LeadManagementService(UserFactory(role="manager"))
    first = service.create_lead({"contact": {"first_name": "Ana", "email": "ana@example.com"}})
    second = service.create_lead({"contact": {"first_name": "Bo", "email": "bo@example.com"}})
    return first, second


def test_an_urgent_relay_hands_over_its_own_events_and_leaves_the_others_waiting():
    first, second = two_new_leads()
    own = list(LeadEvent.objects.filter(lead=first).values_list("pk", flat=True))

    relay_lead_events.apply(args=[own, True])

    assert waiting_ids() == set(LeadEvent.objects.filter(lead=second).values_list("pk", flat=True))


def test_any_other_relay_also_takes_the_events_waiting_but_not_a_new_leads():
    manager = UserFactory(role="manager")
    service = LeadManagementService(manager)
    first = service.create_lead({"contact": {"first_name": "Ana", "email": "ana@example.com"}})
    second = service.create_lead({"contact": {"first_name": "Bo", "email": "bo@example.com"}})
    relay_lead_events.apply(args=[list(LeadEvent.objects.values_list("pk", flat=True)), True])
    service.update_lead(first.public_id, {"tags": ["edited"]})
    service.update_lead(second.public_id, {"tags": ["edited"]})
    third = service.create_lead({"contact": {"first_name": "Cy", "email": "cy@example.com"}})
    own = list(LeadEvent.objects.filter(lead=first, relayed_at__isnull=True).values_list("pk", flat=True))

    relay_lead_events.apply(args=[own])

    # the second lead's edit went along; the new lead waits for its own (urgent) relay
    assert waiting_ids() == set(LeadEvent.objects.filter(lead=third).values_list("pk", flat=True))


def test_an_urgent_relay_brings_its_leads_earlier_waiting_events_along_instead_of_waiting_for_them():
    manager, agent = UserFactory(role="manager"), UserFactory(role="agent")
    service = LeadManagementService(manager)
    lead = service.create_lead({"contact": {"first_name": "Ana", "email": "ana@example.com"}})
    other = service.create_lead({"contact": {"first_name": "Bo", "email": "bo@example.com"}})
    service.update_lead(lead.public_id, {"tags": ["edited"]})  # its relay still queued
    service.assign(lead.public_id, agent)
    [assigned] = LeadEvent.objects.filter(lead=lead, kind="lead.assigned").values_list("pk", flat=True)

    relay_lead_events.apply(args=[[assigned], True])

    # every event of the lead went, in order (none held back); the other lead's still wait
    assert not LeadEvent.objects.filter(lead=lead, relayed_at__isnull=True).exists()
    assert waiting_ids() == set(LeadEvent.objects.filter(lead=other).values_list("pk", flat=True))


def test_a_relay_leaves_the_later_events_of_a_lead_whose_assignment_waits_instead_of_holding_them_back():
    from integrations.routing import engine
    from leads.core import writes
    from leads.events import services

    first, second = two_new_leads()
    relay_lead_events.apply(args=[list(LeadEvent.objects.values_list("pk", flat=True)), True])
    relay_lead_events.apply(args=[list(LeadEvent.objects.values_list("pk", flat=True))])
    # given the routing's assignment of the second lead (its events wait for a relay of
    # their own), a later edit of it, and an edit of the first
    with writes.lead_write(second.pk, context=engine.ROUTING, leads=engine.live_leads()) as write:
        write.lead.assigned_to = UserFactory(role="agent")
    service = LeadManagementService(UserFactory(role="manager"))
    service.update_lead(second.public_id, {"tags": ["later"]})
    service.update_lead(first.public_id, {"tags": ["edited"]})
    own = list(LeadEvent.objects.filter(lead=first, relayed_at__isnull=True).values_list("pk", flat=True))
    seconds = set(LeadEvent.objects.filter(lead=second, relayed_at__isnull=True).values_list("pk", flat=True))

    # when a relay of the first lead's edit runs (taking what else waits)
    outcome = services.relay(own)

    # then the second lead's events were neither taken nor held back (no relay to queue
    # again): they wait for the assignment's own relay, which takes them all in order
    assert outcome.held_back == [] and set(outcome.relayed) == set(own)
    assert waiting_ids() == seconds
    assigned = LeadEvent.objects.get(lead=second, kind="lead.assigned")
    assert set(services.relay([assigned.pk]).relayed) == seconds


# Urgent subscribers (routing, the agent's alert) take a new lead's events first; the
# others (scoring, webhooks, plans...) in the ordinary relay that follows.


@pytest.fixture
def handed():
    """Two recording subscribers, one urgent: what each was handed, in order."""
    from leads.events import services

    seen: list[tuple[str, str, int]] = []
    saved = dict(services._subscribers), set(services._urgent_subscribers)
    services.subscribe("test_urgent", lambda events: seen.extend(("urgent", e.kind, e.pk) for e in events), urgent=True)
    services.subscribe("test_other", lambda events: seen.extend(("other", e.kind, e.pk) for e in events))
    yield seen
    services._subscribers.clear()
    services._subscribers.update(saved[0])
    services._urgent_subscribers.clear()
    services._urgent_subscribers.update(saved[1])


def test_a_new_leads_urgent_relay_reaches_the_urgent_subscribers_first_then_the_others_once(handed):
    first, _second = two_new_leads()
    [created] = LeadEvent.objects.filter(lead=first).values_list("pk", flat=True)

    relay_lead_events.apply(args=[[created], True])  # queues the ordinary relay (run at once here)

    assert handed == [("urgent", "lead.created", created), ("other", "lead.created", created)]
    event = LeadEvent.objects.get(pk=created)
    assert event.urgent_relayed_at is not None
    assert event.relayed_at is not None


def test_events_the_urgent_relay_handed_over_reach_the_others_by_the_sweep_when_the_next_message_is_lost(handed):
    from datetime import timedelta

    from django.utils import timezone

    from leads.events import services, tasks

    first, second = two_new_leads()
    [created] = LeadEvent.objects.filter(lead=first).values_list("pk", flat=True)
    services.relay_urgent([created])  # its ordinary relay's message never arrives
    assert handed == [("urgent", "lead.created", created)]
    assert waiting_ids() == set(LeadEvent.objects.filter(lead__in=[first, second]).values_list("pk", flat=True))

    handed.clear()
    tasks.sweep(now=timezone.now() + timedelta(minutes=5))

    [other_created] = LeadEvent.objects.filter(lead=second).values_list("pk", flat=True)
    # each subscriber once: the urgent one is not handed the first lead's event again
    assert sorted(handed) == [
        ("other", "lead.created", created),
        ("other", "lead.created", other_created),
        ("urgent", "lead.created", other_created),
    ]
    assert waiting_ids() == set()


def test_an_ordinary_batch_takes_a_new_lead_once_its_urgent_relay_is_done_but_not_before(handed):
    from leads.events import services

    manager = UserFactory(role="manager")
    service = LeadManagementService(manager)
    edited = service.create_lead({"contact": {"first_name": "Ana", "email": "ana@example.com"}})
    services.relay(list(LeadEvent.objects.values_list("pk", flat=True)))
    service.update_lead(edited.public_id, {"tags": ["edited"]})
    routed = service.create_lead({"contact": {"first_name": "Bo", "email": "bo@example.com"}})
    waiting_new = service.create_lead({"contact": {"first_name": "Cy", "email": "cy@example.com"}})
    [routed_event] = LeadEvent.objects.filter(lead=routed).values_list("pk", flat=True)
    services.relay_urgent([routed_event])
    handed.clear()
    [edit] = LeadEvent.objects.filter(lead=edited, relayed_at__isnull=True).values_list("pk", flat=True)

    services.relay([edit])

    # the edit to both (the urgent subscriber never had it); the routed lead's arrival to the
    # others only; the lead still owed its urgent relay waits for it
    assert handed == [
        ("urgent", "lead.updated", edit),
        ("other", "lead.updated", edit),
        ("other", "lead.created", routed_event),
    ]
    assert waiting_ids() == set(LeadEvent.objects.filter(lead=waiting_new).values_list("pk", flat=True))


def test_an_ordinary_relay_of_events_no_urgent_relay_took_hands_them_to_every_subscriber_once(handed):
    from leads.tests.lead_events import relay_recorded_events

    first, second = two_new_leads()

    relayed = relay_recorded_events()

    assert sorted(handed) == sorted((who, "lead.created", pk) for pk in relayed for who in ("urgent", "other"))
    assert {first.pk, second.pk} == set(LeadEvent.objects.filter(pk__in=relayed).values_list("lead_id", flat=True))
