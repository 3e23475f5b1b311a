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
