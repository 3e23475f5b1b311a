"""Which events reach which subscriptions: event filtering, the pipeline's reasons,
the owner's lead visibility, and real saves through LeadManagementService."""

import pytest

from integrations.webhooks.models import WebhookDelivery, WebhookEvent
from integrations.webhooks.services import emit_for_pipeline_job, emit_lead_event, emit_lead_scored
from integrations.webhooks.tests.factories import WebhookSubscriptionFactory
from leads.inputs import LeadInput
from leads.models import Role
from leads.services import LeadManagementService
from leads.tests.factories import InteractionFactory, LeadFactory, UserFactory, seed_payload

pytestmark = pytest.mark.django_db


def events_of(subscription) -> list[str]:
    return sorted(subscription.deliveries.values_list("event", flat=True))


def received_events(receiver) -> list[str]:
    return sorted(request.json()["event"] for request in receiver.received)


def test_a_subscription_gets_only_the_events_it_chose(subscribe, receiver, django_capture_on_commit_callbacks):
    # given one subscription to lead.scored only and one to lead.created only
    scored_only = subscribe(WebhookEvent.LEAD_SCORED)
    created_only = subscribe(WebhookEvent.LEAD_CREATED)
    lead = LeadFactory()
    # when a lead is created, then scored
    with django_capture_on_commit_callbacks(execute=True):
        emit_for_pipeline_job(lead_pk=lead.pk, version=1, reason="created")
        emit_lead_scored(lead.pk, 1)
    # then each got its own event and nothing else
    assert events_of(scored_only) == ["lead.scored"]
    assert events_of(created_only) == ["lead.created"]
    assert received_events(receiver) == ["lead.created", "lead.scored"]


@pytest.mark.parametrize(
    ("reason", "events"),
    [
        ("created", ["lead.created"]),
        ("updated", ["lead.updated"]),
        ("assigned", ["lead.updated"]),
        ("opted_out", ["lead.updated"]),
        ("status_changed", ["lead.status_changed", "lead.updated"]),
        ("interaction", ["interaction.added", "lead.updated"]),
        ("something_new", ["lead.updated"]),
    ],
)
def test_pipeline_reasons_map_to_events(reason, events):
    subscription = WebhookSubscriptionFactory()  # every event
    lead = LeadFactory()
    assert emit_for_pipeline_job(lead_pk=lead.pk, version=lead.version, reason=reason) == len(events)
    assert events_of(subscription) == sorted(events)


def test_status_changed_carries_the_change(manager):
    subscription = WebhookSubscriptionFactory(events=[WebhookEvent.LEAD_STATUS_CHANGED])
    lead = LeadFactory()
    lead = LeadManagementService(manager).change_status(lead.public_id, "qualified")
    emit_for_pipeline_job(lead_pk=lead.pk, version=lead.version, reason="status_changed")
    payload = subscription.deliveries.get().payload
    assert payload["status_change"]["from"] == "new"
    assert payload["status_change"]["to"] == "qualified"
    assert payload["lead"]["status"] == "qualified"
    assert payload["version"] == lead.version == 2


def test_interaction_added_carries_the_newest_interaction():
    subscription = WebhookSubscriptionFactory(events=[WebhookEvent.INTERACTION_ADDED])
    lead = LeadFactory()
    InteractionFactory(lead=lead, summary="First call")
    newest = InteractionFactory(lead=lead, summary="Booked a showing")
    emit_for_pipeline_job(lead_pk=lead.pk, version=lead.version, reason="interaction")
    payload = subscription.deliveries.get().payload
    assert payload["interaction"]["id"] == newest.pk
    assert payload["interaction"]["summary"] == "Booked a showing"


def test_extra_fields_never_replace_the_envelope():
    subscription = WebhookSubscriptionFactory(events=[WebhookEvent.LEAD_UPDATED])
    lead = LeadFactory()
    emit_lead_event(event="lead.updated", lead=lead, extra={"id": "forged", "event": "x", "note": "kept"})
    payload = subscription.deliveries.get().payload
    assert payload["event"] == "lead.updated"
    assert payload["id"] == str(subscription.deliveries.get().event_id)
    assert payload["note"] == "kept"


def test_an_unknown_event_is_a_programming_error():
    with pytest.raises(ValueError, match=r"lead\.exploded"):
        emit_lead_event(event="lead.exploded", lead=LeadFactory())


def test_paused_subscriptions_get_nothing():
    WebhookSubscriptionFactory(active=False)
    assert emit_lead_event(event="lead.created", lead=LeadFactory()) == 0
    assert not WebhookDelivery.objects.exists()


def test_deliveries_carry_only_leads_the_owner_may_see():
    # given subscriptions of an admin, a demoted ex-manager and a deactivated manager
    admin_sub = WebhookSubscriptionFactory(owner=UserFactory(username="ops_admin", role=Role.ADMIN))
    demoted = UserFactory(username="now_an_agent", role=Role.AGENT)
    demoted_sub = WebhookSubscriptionFactory(owner=demoted)
    gone_sub = WebhookSubscriptionFactory(owner=UserFactory(username="left", role=Role.MANAGER, is_active=False))
    # when events happen on someone else's lead and on the demoted user's own lead
    emit_lead_event(event="lead.updated", lead=LeadFactory())
    emit_lead_event(event="lead.updated", lead=LeadFactory(assigned_to=demoted))
    # then the admin gets both, the agent only their own lead, the deactivated user nothing
    assert admin_sub.deliveries.count() == 2
    assert demoted_sub.deliveries.count() == 1
    assert gone_sub.deliveries.count() == 0


def test_emitting_with_no_subscriber_costs_one_query(django_assert_num_queries):
    lead = LeadFactory()
    WebhookSubscriptionFactory(events=[WebhookEvent.LEAD_SCORED])
    with django_assert_num_queries(1):
        assert emit_for_pipeline_job(lead_pk=lead.pk, version=1, reason="updated") == 0


def test_emitting_to_many_subscriptions_takes_a_bounded_number_of_queries(django_assert_max_num_queries):
    lead = LeadFactory()
    owner = UserFactory(username="one_manager", role=Role.MANAGER)
    WebhookSubscriptionFactory.create_batch(10, owner=owner)
    # subscriptions, the lead and its parts, the owner's visibility, the bulk insert
    with django_assert_max_num_queries(8):
        assert emit_for_pipeline_job(lead_pk=lead.pk, version=1, reason="status_changed") == 20


def valid_seed_lead() -> dict:
    data = LeadInput(data=seed_payload())
    data.is_valid(raise_exception=True)
    return data.validated_data


def test_a_lead_created_through_the_service_reaches_the_receiver_as_created_and_scored(
    agent, subscribe, receiver, django_capture_on_commit_callbacks
):
    # given a receiver subscribed to creations and scores
    subscription = subscribe(WebhookEvent.LEAD_CREATED, WebhookEvent.LEAD_SCORED)
    # when an agent creates a lead and the transaction commits (the pipeline runs in-process)
    with django_capture_on_commit_callbacks(execute=True):
        lead = LeadManagementService(agent).create_lead(valid_seed_lead())
    # then the receiver got both events for it, signed, the score included
    assert received_events(receiver) == ["lead.created", "lead.scored"]
    lead.refresh_from_db()
    for request in receiver.received:
        body = request.json()
        assert body["lead"]["id"] == lead.public_id
        assert body["version"] == 1
        assert body["lead"]["score"] == lead.score is not None
    assert set(subscription.deliveries.values_list("status", flat=True)) == {"delivered"}


def test_saves_through_the_service_emit_their_events(manager, subscribe, receiver, django_capture_on_commit_callbacks):
    subscribe(WebhookEvent.LEAD_UPDATED, WebhookEvent.LEAD_STATUS_CHANGED, WebhookEvent.INTERACTION_ADDED)
    service = LeadManagementService(manager)
    with django_capture_on_commit_callbacks(execute=True):
        lead = service.create_lead(valid_seed_lead())
    assert receiver.received == []  # not subscribed to lead.created or lead.scored
    with django_capture_on_commit_callbacks(execute=True):
        service.change_status(lead.public_id, "qualified")
    assert received_events(receiver) == ["lead.status_changed", "lead.updated"]
    with django_capture_on_commit_callbacks(execute=True):
        service.add_interaction(lead.public_id, {"type": "call", "summary": "Talked budgets"})
    assert received_events(receiver) == [
        "interaction.added",
        "lead.status_changed",
        "lead.updated",
        "lead.updated",
    ]
    interaction_body = next(r.json() for r in receiver.received if r.json()["event"] == "interaction.added")
    assert interaction_body["interaction"]["summary"] == "Talked budgets"
    assert interaction_body["version"] == 3
