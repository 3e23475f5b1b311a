"""DELETE /api/v2/leads/{id}: managers archive (soft delete); the lead is hidden
from the API, the pages and duplicate checks, and restorable in the admin."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.urls import reverse

from leads.core.selectors import visible_leads
from leads.models import AuditEntry, Contact, Interaction, Lead, Preferences, Timeline
from leads.tests.api_assertions import LEADS_URL, assert_error, db_snapshot, lead_url
from leads.tests.factories import ContactFactory, InteractionFactory, LeadFactory
from leads.tests.lead_events import recorded_events

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:leads_lead_changelist")


def named_lead(agent, first_name="Archie") -> Lead:
    lead = LeadFactory(assigned_to=agent, contact=None)
    ContactFactory(lead=lead, first_name=first_name, last_name="Vance")
    InteractionFactory(lead=lead)
    return lead


def test_a_manager_archives_a_lead_with_204_and_nothing_is_deleted(api_client, manager, agent):
    lead = named_lead(agent)

    response = api_client(manager).delete(lead_url(lead.public_id))

    assert response.status_code == 204
    assert response.content == b""
    # a 204 carries the caller's budget too, this request spent
    assert int(response["X-RateLimit-Remaining"]) == int(response["X-RateLimit-Limit"]) - 1
    archived = Lead.objects.get(pk=lead.pk)
    assert archived.archived_at is not None
    assert archived.archived_by == manager
    # every part is still there; archiving is a change of the lead, with its own event
    assert archived.version == lead.version + 1
    assert recorded_events(lead)[0] == ("lead.archived", lead.version + 1)
    for model in (Contact, Preferences, Timeline, Interaction):
        assert model.objects.filter(lead=lead).count() == 1
    [entry] = AuditEntry.objects.filter(lead=lead, field="archived_at")
    assert (entry.old_value, entry.actor, entry.channel) == (None, manager, "api")
    assert entry.new_value.endswith("Z")


def test_an_admin_archives_too(api_client, admin_user, agent):
    lead = named_lead(agent)

    assert api_client(admin_user).delete(lead_url(lead.public_id)).status_code == 204


def test_an_archived_lead_is_gone_from_the_api(api_client, manager, agent):
    lead = named_lead(agent)
    kept = named_lead(agent, first_name="Kept")
    client = api_client(manager)
    client.delete(lead_url(lead.public_id))

    assert_error(client.get(lead_url(lead.public_id)), 404, "not_found")
    assert_error(client.patch(lead_url(lead.public_id), {"status": "lost"}, format="json"), 404, "not_found")
    assert_error(client.get(lead_url(lead.public_id, interactions=True)), 404, "not_found")
    assert_error(
        client.post(lead_url(lead.public_id, interactions=True), {"type": "call", "summary": "Hi"}, format="json"),
        404,
        "not_found",
    )
    assert_error(client.delete(lead_url(lead.public_id)), 404, "not_found")
    listed = client.get(LEADS_URL).json()
    assert [item["id"] for item in listed["leads"]] == [kept.public_id]
    assert listed["total_count"] == 1
    # the agent who owned it does not see it either
    assert_error(api_client(agent).get(lead_url(lead.public_id)), 404, "not_found")


def test_an_archived_lead_is_gone_from_the_agent_pages(api_client, client, manager, agent):
    lead = named_lead(agent)
    api_client(manager).delete(lead_url(lead.public_id))
    client.force_login(agent)

    assert "Archie" not in client.get(reverse("leads:lead_list")).content.decode()
    assert client.get(reverse("leads:lead_detail", args=[lead.public_id])).status_code == 404
    assert "Archie" not in client.get(reverse("leads:dashboard")).content.decode()
    assert not visible_leads(agent).exists()


def test_an_agent_may_not_archive_even_their_own_lead(api_client, agent):
    lead = named_lead(agent)
    before = db_snapshot()

    error = assert_error(api_client(agent).delete(lead_url(lead.public_id)), 403, "permission_denied")

    assert "managers" in error["message"]
    assert db_snapshot() == before


def test_archiving_a_lead_that_changed_since_it_was_read_is_a_412(api_client, manager, agent):
    lead = named_lead(agent)
    client = api_client(manager)
    etag = client.get(lead_url(lead.public_id))["ETag"]
    client.patch(lead_url(lead.public_id), {"status": "contacted"}, format="json")

    response = client.delete(lead_url(lead.public_id), HTTP_IF_MATCH=etag)

    assert_error(response, 412, "precondition_failed")
    assert Lead.objects.get(pk=lead.pk).archived_at is None
    assert client.delete(lead_url(lead.public_id), HTTP_IF_MATCH='"2"').status_code == 204


@pytest.mark.parametrize("lead_id", ["lead_doesnotexist", "x", "lead_" + "a" * 60])
def test_archiving_an_unknown_lead_is_a_404(api_client, manager, lead_id):
    assert_error(api_client(manager).delete(lead_url(lead_id)), 404, "not_found")


def test_archiving_needs_credentials(api_client, agent):
    lead = named_lead(agent)

    assert_error(api_client().delete(lead_url(lead.public_id)), 401, "not_authenticated")
    assert Lead.objects.get(pk=lead.pk).archived_at is None


# --- the admin ---------------------------------------------------------------------


def test_the_admin_lists_archived_leads_under_their_filter(api_client, client, manager, agent):
    archived, active = named_lead(agent), named_lead(agent, first_name="Active")
    api_client(manager).delete(lead_url(archived.public_id))
    client.force_login(manager)

    everything = client.get(CHANGELIST).context["cl"].result_list
    only_archived = client.get(CHANGELIST, {"archived": "yes"}).context["cl"].result_list
    not_archived = client.get(CHANGELIST, {"archived": "no"}).context["cl"].result_list

    assert {lead.pk for lead in everything} == {archived.pk, active.pk}
    assert [lead.pk for lead in only_archived] == [archived.pk]
    assert [lead.pk for lead in not_archived] == [active.pk]


def test_an_archived_lead_is_read_only_in_the_admin_until_restored(api_client, client, manager, agent):
    lead = named_lead(agent)
    api_client(manager).delete(lead_url(lead.public_id))
    client.force_login(manager)

    page = client.get(reverse("admin:leads_lead_change", args=[lead.pk]))

    assert page.status_code == 200
    assert page.context["has_change_permission"] is False


def test_the_restore_action_brings_a_lead_back(api_client, client, manager, agent):
    archived, active = named_lead(agent), named_lead(agent, first_name="Active")
    api_client(manager).delete(lead_url(archived.public_id))
    client.force_login(manager)

    response = client.post(
        CHANGELIST, {ACTION_CHECKBOX_NAME: [archived.pk, active.pk], "action": "restore", "index": "0"}, follow=True
    )

    assert "Restored 1 lead." in response.content.decode()
    restored = Lead.objects.get(pk=archived.pk)
    assert (restored.archived_at, restored.archived_by) == (None, None)
    assert api_client(agent).get(lead_url(archived.public_id)).status_code == 200
    [entry] = AuditEntry.objects.filter(lead=archived, field="archived_at", new_value__isnull=True)
    assert (entry.actor, entry.channel) == (manager, "admin")


def test_a_staff_agent_cannot_restore(api_client, client, manager, agent):
    lead = named_lead(agent)
    api_client(manager).delete(lead_url(lead.public_id))
    agent.is_staff = True
    agent.save()
    agent.user_permissions.add(*Permission.objects.filter(codename__in=["view_lead", "change_lead"]))
    client.force_login(agent)

    page = client.get(CHANGELIST)

    assert "restore" not in [name for name, _ in page.context["action_form"].fields["action"].choices]
    client.post(CHANGELIST, {ACTION_CHECKBOX_NAME: [lead.pk], "action": "restore", "index": "0"})
    assert Lead.objects.get(pk=lead.pk).archived_at is not None
