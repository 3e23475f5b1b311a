"""A newly assigned agent is alerted whoever assigned the lead (the API, the lead page,
the admin, the routing engine): from the committed ``lead.assigned`` and ``lead.created``
events, never about their own action, once per assignment."""

import pytest
from django.db import transaction
from django.urls import reverse

from integrations.alerts import services, tasks
from integrations.alerts.models import AgentAlert, AlertStatus, DeliveryStatus
from integrations.alerts.tests.conftest import subscribe
from integrations.webhooks.tests.saves import create_lead
from leads.core.services import LeadManagementService
from leads.tests.factories import LeadFactory
from leads.tests.lead_events import relay_recorded_events

pytestmark = pytest.mark.django_db


def lead_url(lead_id: str) -> str:
    return f"/api/v2/leads/{lead_id}"


def test_a_manager_assigning_a_lead_through_the_api_pushes_it_to_the_agent(
    push_service, api_client, manager, agent, other_agent, django_capture_on_commit_callbacks
):
    # given a lead of one agent, and another agent whose phone gets pushes
    lead = LeadFactory(assigned_to=agent, contact__first_name="Ada", contact__last_name="Byron")
    subscribe(other_agent, push_service.browser())
    # when a manager gives the lead to the other agent and the save commits
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client(manager).patch(
            lead_url(lead.public_id), {"assigned_to": other_agent.username}, format="json"
        )
    assert response.status_code == 200
    # then the other agent's phone got the alert, with the lead's link and a Call action
    (push,) = push_service.pushes
    assert push.payload["title"] == "New lead: Ada Byron"
    assert push.payload["reason"] == "assigned"
    assert push.payload["url"] == f"https://leads.example.com/leads/{lead.public_id}/"
    assert [action["action"] for action in push.payload["actions"]] == ["call", "open"]
    alert = AgentAlert.objects.get()
    assert (alert.user, alert.lead, alert.reason, alert.status) == (
        other_agent,
        lead,
        "assigned",
        AlertStatus.DELIVERED,
    )
    # and nobody else was alerted: not the manager who did it, not the agent who lost it
    assert AgentAlert.objects.exclude(user=other_agent).count() == 0


def test_assigning_on_the_lead_page_alerts_the_agent(
    alert_settings, client, manager, agent, django_capture_on_commit_callbacks
):
    lead = LeadFactory(assigned_to=None)
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("leads:lead_assign", args=[lead.public_id]), {"agent": agent.username})
    assert response.status_code in (302, 303)
    alert = AgentAlert.objects.get()
    assert alert.user == agent
    assert [(d.channel, d.status) for d in alert.deliveries.order_by("position")] == [
        ("push", DeliveryStatus.FAILED),  # no phone subscribed
        ("email", DeliveryStatus.SENT),
    ]


def test_nobody_is_alerted_about_what_they_did_themselves(alert_settings, agent, manager):
    # an agent who creates a lead (it is theirs), and a manager who takes an unassigned one
    assert create_lead(agent).assigned_to == agent
    unassigned = LeadFactory(assigned_to=None)
    LeadManagementService(manager).assign(unassigned.public_id, manager)
    relay_recorded_events()
    assert AgentAlert.objects.count() == 0


def test_a_lead_created_already_assigned_to_someone_else_alerts_them(alert_settings, manager, agent):
    lead = create_lead(manager, assigned_to=agent.username)
    relay_recorded_events()
    alert = AgentAlert.objects.get()
    assert (alert.user, alert.lead) == (agent, lead)


def test_only_the_last_of_quick_reassignments_is_alerted(alert_settings, manager, agent, other_agent):
    # given a lead given to one agent then to another before the events are relayed
    lead = LeadFactory(assigned_to=None)
    service = LeadManagementService(manager)
    service.assign(lead.public_id, agent)
    service.assign(lead.public_id, other_agent)
    relay_recorded_events()
    # then only the agent who holds it now is alerted
    assert list(AgentAlert.objects.values_list("user__username", flat=True)) == [other_agent.username]


def test_unassigning_or_archiving_alerts_nobody(alert_settings, manager, agent):
    lead = LeadFactory(assigned_to=agent)
    LeadManagementService(manager).assign(lead.public_id, None)
    relay_recorded_events()
    assert AgentAlert.objects.count() == 0


def test_the_routing_engine_and_the_event_alert_an_assignment_once(alert_settings, manager, agent):
    # given a routing step that assigns the lead and alerts the agent in one transaction
    lead = LeadFactory(assigned_to=None)
    with transaction.atomic():
        assigned = LeadManagementService(manager).assign(lead.public_id, agent)
        armed = tasks.send_agent_alert(user=agent, lead=assigned, reason="assigned")
    assert len(armed) == 1
    # when its lead.assigned event is relayed too
    relay_recorded_events()
    # then the agent has one alert for it
    assert AgentAlert.objects.filter(user=agent, lead=lead).count() == 1
    assert AgentAlert.objects.get().key == services.assignment_key(
        lead_pk=lead.pk, lead_version=assigned.version, user_pk=agent.pk
    )


def test_a_later_assignment_of_the_same_agent_is_a_new_alert(alert_settings, manager, agent, other_agent):
    lead = LeadFactory(assigned_to=None)
    service = LeadManagementService(manager)
    service.assign(lead.public_id, agent)
    relay_recorded_events()
    service.assign(lead.public_id, other_agent)
    relay_recorded_events()
    service.assign(lead.public_id, agent)
    relay_recorded_events()
    assert list(AgentAlert.objects.order_by("pk").values_list("user__username", flat=True)) == [
        agent.username,
        other_agent.username,
        agent.username,
    ]
