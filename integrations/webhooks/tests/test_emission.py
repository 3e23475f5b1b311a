"""From saves to deliveries: what each kind of save records (``leads.events``), which
of those events become deliveries of which subscriptions (the fan-out: the events a
subscription chose, its owner's view of the lead, paused ones left out), what a
delivery's payload says, and what the fan-out costs in queries."""

import uuid

import pytest
from django.db import transaction

from integrations.webhooks import tasks
from integrations.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEvent
from integrations.webhooks.tests.factories import WebhookSubscriptionFactory
from integrations.webhooks.tests.saves import (
    create_lead,
    deliveries_of,
    events_recorded_by,
    kinds,
    lead_input,
    relayed_deliveries,
    tag,
)
from leads.audit import history as audit
from leads.core.representations import iso
from leads.core.services import LeadManagementService
from leads.events.models import LeadEvent
from leads.merges.services import lead_merge
from leads.models import Role
from leads.tests.factories import LeadFactory, UserFactory
from leads.tests.lead_events import recorded_events, relay_recorded_events

pytestmark = pytest.mark.django_db


def data_by_kind(events: list[LeadEvent]) -> dict[str, dict]:
    return {event.kind: event.data for event in events}


# --- what each save records ------------------------------------------------------------


def test_creating_a_lead_records_lead_created(manager):
    # when a lead is created
    events = events_recorded_by(lambda: create_lead(manager))
    # then the save recorded lead.created for its first version, and nothing else
    assert [(event.kind, event.lead_version, event.data) for event in events] == [("lead.created", 1, {})]
    assert (events[0].actor, events[0].channel) == (manager, "api")


def test_a_batch_of_new_leads_records_one_lead_created_each(manager):
    # when three leads are created in one batch
    items = [lead_input(contact={"first_name": f"F{n}", "email": f"batch{n}@example.com"}) for n in range(3)]
    events = events_recorded_by(lambda: LeadManagementService(manager).create_leads_batch(items))
    # then each lead has its own lead.created
    assert kinds(events) == ["lead.created"] * 3
    assert len({event.lead_id for event in events}) == 3


def test_updating_fields_records_lead_updated_with_the_changed_fields(manager):
    # given a lead
    lead = create_lead(manager)
    # when two of its fields change in one save
    events = events_recorded_by(
        lambda: LeadManagementService(manager).update_lead(
            lead.public_id, {"tags": ["vip"], "contact": {"first_name": "Grace"}}
        )
    )
    # then the save recorded one lead.updated naming exactly those fields, for version 2
    (event,) = events
    assert (event.kind, event.lead_version) == ("lead.updated", 2)
    assert sorted(event.data["changed_fields"]) == ["contact.first_name", "tags"]


def test_a_save_that_changes_nothing_records_no_event(manager):
    lead = create_lead(manager, tags=["vip"])
    events = events_recorded_by(lambda: LeadManagementService(manager).update_lead(lead.public_id, {"tags": ["vip"]}))
    assert events == []


def test_a_status_change_records_status_changed_from_to_and_lead_updated(manager):
    lead = create_lead(manager)
    # when the lead moves from new to qualified
    events = events_recorded_by(lambda: LeadManagementService(manager).change_status(lead.public_id, "qualified"))
    # then the save recorded the move and the update, both for version 2
    assert kinds(events) == ["lead.status_changed", "lead.updated"]
    assert {event.lead_version for event in events} == {2}
    assert data_by_kind(events) == {
        "lead.status_changed": {"from": "new", "to": "qualified"},
        "lead.updated": {"changed_fields": ["status"]},
    }


def test_assigning_records_lead_assigned_and_lead_updated(manager, agent, other_agent):
    lead = create_lead(manager)
    service = LeadManagementService(manager)
    # when the lead is given to an agent, then to another
    first = events_recorded_by(lambda: service.assign(lead.public_id, agent))
    second = events_recorded_by(lambda: service.assign(lead.public_id, other_agent))
    # then each save recorded who had it before and who has it now
    assert kinds(first) == kinds(second) == ["lead.assigned", "lead.updated"]
    assert data_by_kind(first) == {
        "lead.assigned": {"from": None, "to": agent.username},
        "lead.updated": {"changed_fields": ["assigned_to"]},
    }
    assert data_by_kind(second)["lead.assigned"] == {"from": agent.username, "to": other_agent.username}


def test_the_first_outbound_contact_records_interaction_added_status_changed_and_lead_updated(manager):
    lead = create_lead(manager)
    service = LeadManagementService(manager)
    # when the agent calls the new lead
    events = events_recorded_by(lambda: service.add_interaction(lead.public_id, {"type": "call", "summary": "Hi"}))
    # then the save recorded the interaction, the move new -> contacted, and the update
    interaction = lead.interactions.get()
    assert kinds(events) == ["interaction.added", "lead.status_changed", "lead.updated"]
    assert {event.lead_version for event in events} == {2}
    assert data_by_kind(events) == {
        "interaction.added": {"interaction_id": interaction.pk},
        "lead.status_changed": {"from": "new", "to": "contacted"},
        "lead.updated": {"changed_fields": ["status", "interactions"]},
    }


def test_a_later_interaction_records_no_status_change(manager):
    lead = create_lead(manager)
    service = LeadManagementService(manager)
    service.add_interaction(lead.public_id, {"type": "call", "summary": "First call"})
    # when a second call and an internal note are logged
    call = events_recorded_by(lambda: service.add_interaction(lead.public_id, {"type": "call", "summary": "Again"}))
    note = events_recorded_by(lambda: service.add_interaction(lead.public_id, {"type": "note", "summary": "Memo"}))
    # then each recorded its interaction and the update, and the status stayed
    for events in (call, note):
        assert kinds(events) == ["interaction.added", "lead.updated"]
        assert data_by_kind(events)["lead.updated"] == {"changed_fields": ["interactions"]}
    assert call[0].data["interaction_id"] != note[0].data["interaction_id"]


def test_archiving_and_restoring_record_their_events(manager):
    lead = create_lead(manager)
    service = LeadManagementService(manager)
    # when the lead is archived, then restored
    archived = events_recorded_by(lambda: service.archive_lead(lead.public_id))
    restored = events_recorded_by(lambda: service.restore_lead(lead.public_id))
    # then each save recorded its own event (with the update of archived_at), one version each
    assert kinds(archived) == ["lead.archived", "lead.updated"]
    assert kinds(restored) == ["lead.restored", "lead.updated"]
    assert (
        data_by_kind(archived)["lead.updated"]
        == data_by_kind(restored)["lead.updated"]
        == {"changed_fields": ["archived_at"]}
    )
    assert {event.lead_version for event in archived} == {2}
    assert {event.lead_version for event in restored} == {3}


def test_a_merge_records_lead_merged_on_the_primary_and_lead_archived_on_the_duplicate(manager):
    primary = create_lead(manager, tags=["vip"])
    duplicate = create_lead(manager, tags=["vip"])
    merges = []
    # when the duplicate is merged into the primary
    events = events_recorded_by(
        lambda: merges.append(
            lead_merge(
                actor=manager,
                primary_id=primary.public_id,
                duplicate_id=duplicate.public_id,
                context=audit.AuditContext(actor=manager),
            )
        )
    )
    # then the primary has lead.merged naming the duplicate, the duplicate lead.archived naming the primary
    (merge,) = merges
    assert sorted((event.lead_id, event.kind, event.lead_version) for event in events) == [
        (primary.pk, "lead.merged", 2),
        (duplicate.pk, "lead.archived", 2),
    ]
    data = {event.kind: event.data for event in events}
    assert data["lead.merged"]["merge_id"] == merge.public_id
    assert data["lead.merged"]["duplicate_id"] == duplicate.public_id
    assert data["lead.archived"] == {"merged_into": primary.public_id, "merge_id": merge.public_id}


def test_the_pipelines_score_records_lead_scored(agent, django_capture_on_commit_callbacks):
    # when a lead is created and its after-save work runs (the pipeline, in-process)
    with django_capture_on_commit_callbacks(execute=True):
        lead = create_lead(agent)
    # then scoring it recorded lead.scored for the version it scored, with the score
    lead.refresh_from_db()
    assert lead.score is not None
    assert recorded_events(lead) == [("lead.created", 1), ("lead.scored", 1)]
    scored = LeadEvent.objects.get(lead=lead, kind="lead.scored")
    assert scored.data == {"score": lead.score, "previous_score": None}
    assert (scored.actor, scored.channel) == (None, "task")


def test_a_rolled_back_save_records_nothing_and_delivers_nothing(
    manager, subscribe, receiver, django_capture_on_commit_callbacks
):
    # given a subscription to every event and a lead
    subscription = subscribe()
    lead = LeadFactory()
    # when a save fails after changing the lead, inside the caller's transaction
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        tag(lead, manager, "never-saved")
        raise RuntimeError("the caller fails after saving")
    # then no event is left, nothing was queued, and the receiver heard nothing
    assert recorded_events(lead) == []
    assert callbacks == []
    assert relayed_deliveries(subscription) == []
    assert receiver.received == []


# --- which subscriptions get what -------------------------------------------------------


def test_each_event_becomes_one_delivery_per_subscription_that_chose_it(manager):
    # given two subscriptions to every event and one to status changes only
    everything = WebhookSubscriptionFactory.create_batch(2)
    statuses = WebhookSubscriptionFactory(events=[WebhookEvent.STATUS_CHANGED])
    lead = create_lead(manager)
    events = events_recorded_by(lambda: LeadManagementService(manager).change_status(lead.public_id, "qualified"))
    relay_recorded_events()
    # then each subscription to every event got every event once, under the event's own id
    event_ids = {event.kind: event.event_id for event in LeadEvent.objects.filter(lead=lead)}
    for subscription in everything:
        assert {(delivery.event, delivery.event_id) for delivery in deliveries_of(subscription)} == set(
            event_ids.items()
        )
    # and the status subscription only the status change
    (delivery,) = deliveries_of(statuses)
    assert (delivery.event, delivery.event_id, delivery.sequence) == (
        "lead.status_changed",
        event_ids["lead.status_changed"],
        next(event.pk for event in events if event.kind == "lead.status_changed"),
    )
    assert delivery.lead_public_id == lead.public_id


def test_a_subscription_gets_only_the_events_it_chose(agent, subscribe, receiver, django_capture_on_commit_callbacks):
    # given one subscription to lead.scored only and one to lead.created only
    scored_only = subscribe(WebhookEvent.SCORED)
    created_only = subscribe(WebhookEvent.CREATED)
    # when a lead is created and its after-save work runs
    with django_capture_on_commit_callbacks(execute=True):
        create_lead(agent)
    # then each got its own event and nothing else, delivered
    assert [delivery.event for delivery in deliveries_of(scored_only)] == ["lead.scored"]
    assert [delivery.event for delivery in deliveries_of(created_only)] == ["lead.created"]
    assert sorted(request.json()["event"] for request in receiver.received) == ["lead.created", "lead.scored"]
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}


def test_paused_subscriptions_get_no_deliveries(manager):
    paused = WebhookSubscriptionFactory(active=False)
    create_lead(manager)
    assert relayed_deliveries(paused) == []
    assert not WebhookDelivery.objects.exists()


def test_deliveries_carry_only_leads_the_owner_may_see(manager):
    # given subscriptions of an admin, a demoted ex-manager and a deactivated manager
    admin_sub = WebhookSubscriptionFactory(owner=UserFactory(username="ops_admin", role=Role.ADMIN))
    demoted = UserFactory(username="now_an_agent", role=Role.AGENT)
    demoted_sub = WebhookSubscriptionFactory(owner=demoted)
    gone_sub = WebhookSubscriptionFactory(owner=UserFactory(username="left", role=Role.MANAGER, is_active=False))
    # when saves change someone else's lead and the demoted user's own lead
    others, own = LeadFactory(), LeadFactory(assigned_to=demoted)
    tag(others, manager)
    tag(own, manager)
    relay_recorded_events()
    # then the admin gets both, the agent only their own lead, the deactivated user nothing
    assert sorted(d.lead_public_id for d in deliveries_of(admin_sub)) == sorted([others.public_id, own.public_id])
    assert [d.lead_public_id for d in deliveries_of(demoted_sub)] == [own.public_id]
    assert deliveries_of(gone_sub) == []


def test_the_events_of_an_archived_lead_still_reach_its_subscribers(manager):
    # given a subscription of a manager (who sees every lead)
    subscription = WebhookSubscriptionFactory(owner=manager)
    lead = create_lead(manager)
    primary, duplicate = create_lead(manager), create_lead(manager)
    # when a lead is changed then archived, and a duplicate merged, before the relay runs
    service = LeadManagementService(manager)
    tag(lead, manager)
    service.archive_lead(lead.public_id)
    lead_merge(
        actor=manager,
        primary_id=primary.public_id,
        duplicate_id=duplicate.public_id,
        context=audit.AuditContext(actor=manager),
    )
    relay_recorded_events()
    # then every event of the archived leads was delivered, the archiving included
    for archived in (lead, duplicate):
        expected = set(LeadEvent.objects.filter(lead=archived).values_list("event_id", flat=True))
        assert {d.event_id for d in deliveries_of(subscription) if d.lead_public_id == archived.public_id} == expected
    assert "lead.archived" in {d.event for d in deliveries_of(subscription) if d.lead_public_id == lead.public_id}


# --- what a delivery says ------------------------------------------------------------------


def test_the_envelope_is_the_event_and_the_lead_as_the_api_shows_it(manager, api_client):
    subscription = WebhookSubscriptionFactory(events=[WebhookEvent.UPDATED])
    lead = LeadFactory(contact__first_name="Ada")
    tag(lead, manager, "vip")
    (delivery,) = relayed_deliveries(subscription)
    event = LeadEvent.objects.get(lead=lead)
    # the event's own id, name, time and version
    payload = delivery.payload
    assert payload["id"] == str(event.event_id) == str(delivery.event_id)
    assert uuid.UUID(payload["id"])
    assert payload["event"] == "lead.updated"
    assert payload["created_at"] == iso(event.occurred_at)
    assert payload["version"] == event.lead_version == 2
    assert payload["changed_fields"] == ["tags"]
    # and the lead as the API shows it
    shown = api_client(manager).get(f"/api/v2/leads/{lead.public_id}").json()["lead"]
    assert payload["lead"] == shown
    assert payload["lead"]["tags"] == ["vip"] and payload["lead"]["contact"]["first_name"] == "Ada"


def test_status_changed_carries_the_change(manager):
    subscription = WebhookSubscriptionFactory(events=[WebhookEvent.STATUS_CHANGED])
    lead = LeadManagementService(manager).change_status(LeadFactory().public_id, "qualified")
    (delivery,) = relayed_deliveries(subscription)
    payload = delivery.payload
    event = LeadEvent.objects.get(lead=lead, kind="lead.status_changed")
    assert payload["status_change"] == {"from": "new", "to": "qualified", "at": iso(event.occurred_at)}
    assert "from" not in payload and "to" not in payload
    assert payload["lead"]["status"] == "qualified"
    assert payload["version"] == lead.version == 2


def test_interaction_added_carries_the_interaction_it_added(manager):
    subscription = WebhookSubscriptionFactory(events=[WebhookEvent.INTERACTION_ADDED])
    lead = LeadFactory()
    service = LeadManagementService(manager)
    _, first = service.add_interaction(lead.public_id, {"type": "call", "summary": "First call"})
    _, second = service.add_interaction(lead.public_id, {"type": "meeting", "summary": "Booked a showing"})
    # each delivery carries its own interaction, not the newest one
    first_payload, second_payload = (delivery.payload for delivery in relayed_deliveries(subscription))
    assert (first_payload["interaction"]["id"], first_payload["interaction"]["summary"]) == (first.pk, "First call")
    assert (second_payload["interaction"]["id"], second_payload["interaction"]["summary"]) == (
        second.pk,
        "Booked a showing",
    )
    assert second_payload["interaction"]["created_by"] == manager.username
    assert "interaction_id" not in first_payload
    assert (first_payload["version"], second_payload["version"]) == (2, 3)


def test_assigned_merged_and_scored_carry_what_happened(manager, agent, django_capture_on_commit_callbacks):
    subscription = WebhookSubscriptionFactory(
        owner=manager, events=[WebhookEvent.ASSIGNED, WebhookEvent.MERGED, WebhookEvent.SCORED]
    )
    with django_capture_on_commit_callbacks(execute=True):
        primary = create_lead(manager)
    duplicate = create_lead(manager)
    LeadManagementService(manager).assign(primary.public_id, agent)
    merge = lead_merge(
        actor=manager,
        primary_id=primary.public_id,
        duplicate_id=duplicate.public_id,
        context=audit.AuditContext(actor=manager),
    )
    payloads = {delivery.event: delivery.payload for delivery in relayed_deliveries(subscription)}
    primary.refresh_from_db()
    assert set(payloads) == {"lead.scored", "lead.assigned", "lead.merged"}
    assert {key: payloads["lead.scored"][key] for key in ("score", "previous_score", "version")} == {
        "score": primary.score,
        "previous_score": None,
        "version": 1,
    }
    assert (payloads["lead.assigned"]["from"], payloads["lead.assigned"]["to"]) == (None, agent.username)
    assert payloads["lead.assigned"]["lead"]["assigned_to"] is not None
    assert payloads["lead.merged"]["merge_id"] == merge.public_id
    assert payloads["lead.merged"]["duplicate_id"] == duplicate.public_id


# --- what the fan-out costs ----------------------------------------------------------------


def test_events_nobody_wants_cost_only_the_subscription_read(manager, django_assert_num_queries):
    # given a subscription to scores only, and a save that made no score
    WebhookSubscriptionFactory(events=[WebhookEvent.SCORED])
    WebhookSubscriptionFactory(active=False)
    events = events_recorded_by(lambda: tag(LeadFactory(), manager))
    # when the webhooks take the events
    with django_assert_num_queries(1):
        tasks.on_lead_events(events)
    # then nothing was written
    assert not WebhookDelivery.objects.exists()


def test_the_fan_out_to_many_subscriptions_takes_a_bounded_number_of_queries(
    manager, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    # given ten subscriptions of one manager to every event
    owner = UserFactory(username="one_manager", role=Role.MANAGER)
    WebhookSubscriptionFactory.create_batch(10, owner=owner)
    # and saves of five leads: a status change and an interaction each (four events each)
    service = LeadManagementService(manager)

    def saves():
        for lead in LeadFactory.create_batch(5):
            service.change_status(lead.public_id, "qualified")
            service.add_interaction(lead.public_id, {"type": "note", "summary": "Memo"})

    events = events_recorded_by(saves)
    assert len(events) == 20
    # when the webhooks take them
    with django_capture_on_commit_callbacks() as queued, django_assert_max_num_queries(9) as queries:
        tasks.on_lead_events(events)
    # then five reads did it (subscriptions; the leads with their parts and interactions;
    # the owner's view of them; the interactions added) and the inserts (one statement on
    # PostgreSQL, a few batches on SQLite)
    reads = [query["sql"] for query in queries.captured_queries if query["sql"].startswith("SELECT")]
    assert len(reads) <= 5, reads
    # and every event went to every subscription; once the relay commits, the first of each
    # lead's deliveries to each subscription is queued (the others follow it: next_in_line)
    assert WebhookDelivery.objects.count() == 200
    assert len(queued) == 5 * 10
