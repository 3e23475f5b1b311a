"""Audit history: every write through the API, the agent pages, the admin, the
import and the tasks leaves entries (field, old, new, who, channel) in its own
transaction; GET /api/v2/leads/{id}/history shows them to whoever sees the lead."""

from decimal import Decimal

import pytest
from django.db import transaction
from django.urls import reverse

from integrations.scoring.services import lead_score_refresh
from integrations.workflows.services import record_opt_out
from integrations.workflows.unsubscribe import unsubscribe_token
from leads.core.services import LeadManagementService
from leads.errors import ValidationFailed
from leads.models import AuditChannel, AuditEntry, Lead, Role
from leads.tests.api_assertions import assert_envelope, assert_error, lead_url
from leads.tests.factories import LeadFactory, UserFactory
from leads.tests.test_admin import change_url, page_data

pytestmark = pytest.mark.django_db


def history_url(lead_id: str) -> str:
    return f"{lead_url(lead_id)}/history"


def entries_of(lead: Lead) -> dict[str, AuditEntry]:
    """The lead's entries by field (the tests make one entry per field)."""
    return {entry.field: entry for entry in AuditEntry.objects.filter(lead=lead)}


def test_api_update_records_each_changed_field_with_old_new_actor_and_request_id(api_client, agent):
    lead = LeadFactory(assigned_to=agent, contact__email="old@example.com")

    response = api_client(agent).put(
        lead_url(lead.public_id),
        {"contact": {"email": "new@Example.com"}, "preferences": {"min_price": 350000.5}, "status": "contacted"},
        format="json",
        HTTP_X_REQUEST_ID="req-42",
    )

    assert response.status_code == 200
    entries = entries_of(lead)
    assert set(entries) == {"contact.email", "preferences.min_price", "status"}
    email = entries["contact.email"]
    assert (email.old_value, email.new_value) == ("old@example.com", "new@example.com")
    assert (entries["preferences.min_price"].old_value, entries["preferences.min_price"].new_value) == (
        300000,
        350000.5,
    )
    assert (entries["status"].old_value, entries["status"].new_value) == ("new", "contacted")
    assert {(entry.actor, entry.channel, entry.request_id) for entry in entries.values()} == {
        (agent, AuditChannel.API, "req-42")
    }
    assert len({entry.changeset for entry in entries.values()}) == 1  # one save, one changeset


def test_api_create_and_interaction_are_recorded(api_client, agent):
    client = api_client(agent)
    created = client.post(
        "/api/v2/leads",
        {"contact": {"first_name": "Ada", "email": "ada@example.com"}, "lead_type": "buyer"},
        format="json",
    ).json()["lead"]
    lead = Lead.objects.get(public_id=created["id"])

    client.post(lead_url(lead.public_id, interactions=True), {"type": "call", "summary": "Intro call"}, format="json")

    entries = entries_of(lead)
    assert entries["created"].new_value["contact.email"] == "ada@example.com"
    assert entries["created"].new_value["assigned_to"] == agent.username
    added = entries["interaction_added"]
    assert added.new_value == {"id": lead.interactions.get().pk, "type": "call", "summary": "Intro call"}
    # the first outbound call moved the lead on, in the same changeset
    assert (entries["status"].old_value, entries["status"].new_value) == ("new", "contacted")
    assert entries["status"].changeset == added.changeset


def test_reassignment_is_recorded_with_usernames(manager, agent, other_agent):
    lead = LeadFactory(assigned_to=agent)

    LeadManagementService(manager, channel=AuditChannel.PAGE).assign(lead.public_id, other_agent)

    entry = AuditEntry.objects.get(lead=lead)
    assert (entry.field, entry.old_value, entry.new_value) == ("assigned_to", "agent_smith", "agent_jones")
    assert (entry.actor, entry.channel) == (manager, AuditChannel.PAGE)


def test_admin_edit_is_recorded_with_the_admin_channel(client, admin_user):
    lead = LeadFactory(lead_type="buyer")
    client.force_login(admin_user)
    data = page_data(client.get(change_url(lead)))
    data.update({"lead_type": "investor", "timeline-0-urgency_level": "urgent"})

    response = client.post(change_url(lead), data)

    assert response.status_code == 302
    entries = entries_of(lead)
    assert set(entries) == {"lead_type", "timeline.urgency_level"}
    assert (entries["lead_type"].old_value, entries["lead_type"].new_value) == ("buyer", "investor")
    assert (entries["timeline.urgency_level"].old_value, entries["timeline.urgency_level"].new_value) == (
        "normal",
        "urgent",
    )
    assert {(entry.actor, entry.channel) for entry in entries.values()} == {(admin_user, AuditChannel.ADMIN)}


def test_page_edits_are_recorded_with_the_page_channel(client, agent):
    lead = LeadFactory(assigned_to=agent)
    client.force_login(agent)

    client.post(reverse("leads:lead_change_status", args=[lead.public_id]), {"status": "qualified"})
    client.post(
        reverse("leads:lead_log_interaction", args=[lead.public_id]),
        {"type": "note", "summary": "Prefers evenings"},
    )

    entries = entries_of(lead)
    assert (entries["status"].old_value, entries["status"].new_value) == ("new", "qualified")
    assert entries["interaction_added"].new_value["summary"] == "Prefers evenings"
    assert {(entry.actor, entry.channel) for entry in entries.values()} == {(agent, AuditChannel.PAGE)}


def test_the_lead_page_and_the_admin_show_the_history(client, manager):
    lead = LeadFactory(contact__email="before@example.com")
    LeadManagementService(manager).update_lead(lead.public_id, {"contact": {"email": "after@example.com"}})
    client.force_login(manager)

    page = client.get(reverse("leads:lead_detail", args=[lead.public_id])).content.decode()
    admin_page = client.get(change_url(lead)).content.decode()

    for html in (page, admin_page):
        assert "Contact: email" in html
        assert "before@example.com" in html and "after@example.com" in html
        assert str(manager) in html


def test_a_no_op_write_records_nothing(api_client, agent):
    lead = LeadFactory(assigned_to=agent, contact__email="same@example.com", lead_type="buyer")

    response = api_client(agent).put(
        lead_url(lead.public_id),
        {"contact": {"email": "same@example.com"}, "lead_type": "buyer", "preferences": {"min_price": 300000}},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["lead"]["version"] == 1
    assert not AuditEntry.objects.exists()


def test_a_refused_write_records_nothing(agent):
    lead = LeadFactory(assigned_to=agent)

    with pytest.raises(ValidationFailed):
        LeadManagementService(agent).update_lead(lead.public_id, {"preferences": {"min_price": Decimal("900000")}})

    assert not AuditEntry.objects.exists()


def test_a_rolled_back_write_records_nothing(agent):
    # given a save that succeeds inside a transaction that then rolls back
    lead = LeadFactory(assigned_to=agent)
    with pytest.raises(RuntimeError), transaction.atomic():
        LeadManagementService(agent).change_status(lead.public_id, "lost")
        assert AuditEntry.objects.filter(lead=lead).count() == 1  # recorded in the write's transaction...
        raise RuntimeError("the caller's transaction fails")

    assert not AuditEntry.objects.exists()  # ...so it went with the rollback


def test_import_rows_are_recorded_with_the_import_channel(client, agent, django_capture_on_commit_callbacks):
    from leads.tests.test_imports import HEADER, run_queued_import

    client.force_login(agent)
    run_queued_import(
        client, HEADER + "Ada,Lovelace,ada@example.com,,buyer,website,,,,\n", django_capture_on_commit_callbacks
    )

    entry = AuditEntry.objects.get(lead__contact__email="ada@example.com")
    assert (entry.field, entry.actor, entry.channel) == ("created", agent, AuditChannel.IMPORT)


def test_scoring_is_one_task_entry_and_an_unchanged_score_records_nothing(agent):
    lead = LeadFactory(assigned_to=agent, score=None)

    lead_score_refresh(lead_pk=lead.pk, version=lead.version)
    lead_score_refresh(lead_pk=lead.pk, version=lead.version)  # the same score again

    entry = AuditEntry.objects.get(lead=lead)
    lead.refresh_from_db()
    assert (entry.field, entry.old_value, entry.new_value) == ("score", None, lead.score)
    assert (entry.actor, entry.channel) == (None, AuditChannel.TASK)


def test_an_opt_out_through_the_link_is_recorded(agent):
    lead = LeadFactory(assigned_to=agent)

    record_opt_out(token=unsubscribe_token(lead=lead, channel="email"))
    record_opt_out(token=unsubscribe_token(lead=lead, channel="email"))  # saying it twice changes nothing

    entries = entries_of(lead)
    assert set(entries) == {"contact.email_opt_out", "interaction_added"}
    assert (entries["contact.email_opt_out"].old_value, entries["contact.email_opt_out"].new_value) == (False, True)
    assert entries["contact.email_opt_out"].channel == AuditChannel.SYSTEM


# --- GET /api/v2/leads/{id}/history ----------------------------------------------


def test_history_is_newest_first_and_paginated(api_client, agent):
    lead = LeadFactory(assigned_to=agent)
    service = LeadManagementService(agent)
    for status in ("contacted", "qualified", "showing"):
        service.change_status(lead.public_id, status)

    response = api_client(agent).get(history_url(lead.public_id), {"page": 1, "page_size": 2})

    assert response.status_code == 200
    body = response.json()
    assert_envelope(body)
    assert (body["total_count"], body["page"], body["page_size"]) == (3, 1, 2)
    assert [entry["new_value"] for entry in body["history"]] == ["showing", "qualified"]
    newest = body["history"][0]
    assert set(newest) == {"id", "changeset", "field", "old_value", "new_value", "actor", "channel", "request_id", "at"}
    assert (newest["field"], newest["old_value"], newest["actor"], newest["channel"]) == (
        "status",
        "qualified",
        "agent_smith",
        "api",
    )
    assert newest["at"].endswith("Z")
    last_page = api_client(agent).get(history_url(lead.public_id), {"page": 2, "page_size": 2}).json()
    assert [entry["new_value"] for entry in last_page["history"]] == ["contacted"]


def test_history_of_a_lead_the_caller_cannot_see_is_a_404(api_client, agent, other_agent):
    lead = LeadFactory(assigned_to=other_agent)
    LeadManagementService(other_agent).change_status(lead.public_id, "lost")

    assert_error(api_client(agent).get(history_url(lead.public_id)), 404, "not_found")
    assert_error(api_client(agent).get(history_url(lead.public_id), {"page": "x"}), 404, "not_found")
    assert_error(api_client(agent).get(history_url("lead_0000")), 404, "not_found")
    assert api_client(other_agent).get(history_url(lead.public_id)).status_code == 200


def test_history_of_an_archived_lead_is_a_404(api_client, manager):
    lead = LeadFactory(archived_at="2026-01-01T00:00:00Z")

    assert_error(api_client(manager).get(history_url(lead.public_id)), 404, "not_found")


def test_bad_history_paging_is_a_400(api_client, agent):
    lead = LeadFactory(assigned_to=agent)

    error = assert_error(
        api_client(agent).get(history_url(lead.public_id), {"page_size": 1000}), 400, "validation_error"
    )

    assert "page_size" in error["fields"]


def test_history_costs_a_fixed_number_of_queries(api_client, manager, django_assert_max_num_queries):
    lead = LeadFactory()
    actors = UserFactory.create_batch(5, role=Role.MANAGER)
    for index, actor in enumerate(actors):
        LeadManagementService(actor, channel=AuditChannel.ADMIN if index % 2 else AuditChannel.API).update_lead(
            lead.public_id, {"tags": [f"tag-{index}"]}
        )
    client = api_client(manager)

    with django_assert_max_num_queries(5):  # token, visibility, count, page (with actors)
        body = client.get(history_url(lead.public_id)).json()

    assert [entry["actor"] for entry in body["history"]] == [actor.username for actor in reversed(actors)]


def test_the_admin_lists_a_leads_entries_read_only(client, manager, agent):
    lead, other = LeadFactory(), LeadFactory()
    LeadManagementService(manager).change_status(lead.public_id, "nurture")
    LeadManagementService(manager).change_status(other.public_id, "lost")
    client.force_login(manager)
    changelist = reverse("admin:leads_auditentry_changelist")

    response = client.get(changelist, {"lead__id__exact": lead.pk, "q": "status"})

    assert response.status_code == 200
    assert [entry.new_value for entry in response.context["cl"].result_list] == ["nurture"]
    entry = AuditEntry.objects.get(lead=lead)
    assert client.post(reverse("admin:leads_auditentry_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    client.force_login(agent)
    assert client.get(changelist).status_code in (302, 403)
