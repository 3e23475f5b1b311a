"""Merging two leads (API and admin) and undoing the merge: values by the prefer
rules, rows moved and moved back, the duplicate archived and restored, versions,
the after-save work, permissions and the refusals."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from leads.core.followups import follow_up_create
from leads.core.services import LeadManagementService
from leads.models import (
    AuditChannel,
    AuditEntry,
    FollowUpTask,
    Interaction,
    Lead,
    LeadEvent,
    LeadMerge,
    StatusChange,
)
from leads.tests.api_assertions import assert_error, db_snapshot, lead_url
from leads.tests.concurrency import run_at_once
from leads.tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

VOLATILE = ("version", "updated_at")


def merge_url(lead: Lead) -> str:
    return f"{lead_url(lead.public_id)}/merge"


def undo_url(merge_id: str) -> str:
    return f"/api/v2/merges/{merge_id}/undo"


def representation(client, lead: Lead) -> dict:
    """The lead as the API shows it, minus what every write changes."""
    response = client.get(lead_url(lead.public_id))
    assert response.status_code == 200
    return {key: value for key, value in response.json()["lead"].items() if key not in VOLATILE}


def status_history(lead: Lead) -> list[tuple]:
    return list(StatusChange.objects.filter(lead=lead).order_by("pk").values_list("pk", "from_status", "to_status"))


def follow_ups(lead: Lead) -> list[tuple]:
    return list(FollowUpTask.objects.filter(lead=lead).order_by("pk").values_list("pk", "assigned_to", "completed_at"))


@pytest.fixture
def pair(manager, agent, other_agent):
    """Two records of one person, each with its own story."""
    primary = LeadFactory(
        assigned_to=agent,
        contact__first_name="Dana",
        contact__email="dana@example.com",
        contact__phone="",
        preferences__min_price=Decimal("400000.00"),
        preferences__max_price=Decimal("650000.50"),
        preferences__preferred_locations=["Oakland"],
        tags=["vip"],
        score=61,
        metadata={"market_analysis": {"median": 1}, "lead_insights": {"summary": "keen"}},
    )
    duplicate = LeadFactory(
        assigned_to=other_agent,
        contact__first_name="Dana",
        contact__email="dana.w@example.com",
        contact__phone="+14155550142",
        contact__sms_opt_out=True,
        preferences__min_price=Decimal("350000.00"),
        preferences__max_price=Decimal("700000.00"),
        preferences__preferred_locations=["Berkeley"],
        timeline__urgency_level="high",
        tags=[],
        score=40,
    )
    for lead, author in ((primary, agent), (duplicate, other_agent)):
        service = LeadManagementService(author)
        service.add_interaction(lead.public_id, {"type": "call", "summary": f"Call on {lead.public_id}"})
        follow_up_create(
            actor=author, lead_id=lead.public_id, title="Call back", due_at=timezone.now() + timedelta(days=1)
        )
    LeadManagementService(other_agent).change_status(duplicate.public_id, "qualified")
    return primary, duplicate


def test_merge_then_undo_restores_both_leads_exactly(api_client, manager, pair):
    # given two leads as the API shows them, with their status history and follow-ups
    primary, duplicate = pair
    client = api_client(manager)
    before = {lead.pk: representation(client, lead) for lead in pair}
    rows_before = {lead.pk: (status_history(lead), follow_ups(lead)) for lead in pair}
    prefer = {"contact.email": "duplicate", "status": "duplicate", "preferences.max_price": "duplicate"}

    # when they are merged, then the merge is undone
    merged = client.post(merge_url(primary), {"duplicate_id": duplicate.public_id, "prefer": prefer}, format="json")
    assert merged.status_code == 201, merged.content
    merge_id = merged.json()["merge"]["id"]
    undone = client.post(undo_url(merge_id))

    # then both leads are exactly as they were, rows and all, at new versions
    assert undone.status_code == 200, undone.content
    assert {lead.pk: representation(client, lead) for lead in pair} == before
    assert {lead.pk: (status_history(lead), follow_ups(lead)) for lead in pair} == rows_before
    body = undone.json()
    assert (body["primary"]["version"], body["duplicate"]["version"]) == (primary.version + 3, duplicate.version + 4)
    assert body["merge"]["undone_by"] == manager.username
    duplicate.refresh_from_db()
    assert (duplicate.archived_at, duplicate.archived_by, duplicate.merged_into) == (None, None, None)


def test_merge_applies_the_prefer_rules(api_client, manager, pair):
    primary, duplicate = pair
    prefer = {"contact.email": "duplicate", "preferences.max_price": "primary", "timeline.urgency_level": "primary"}

    response = api_client(manager).post(
        merge_url(primary), {"duplicate_id": duplicate.public_id, "prefer": prefer}, format="json"
    )

    assert response.status_code == 201, response.content
    lead = response.json()["lead"]
    assert lead["contact"]["email"] == "dana.w@example.com"  # prefer: duplicate
    assert lead["preferences"]["max_price"] == 650000.5  # prefer: primary
    assert lead["timeline"]["urgency_level"] == "normal"  # prefer: primary
    assert lead["preferences"]["min_price"] == 400000  # default: the primary's value
    assert lead["preferences"]["preferred_locations"] == ["Oakland"]
    assert lead["assigned_to"] == "agent_smith"
    assert lead["status"] == "contacted"
    assert lead["contact"]["phone"] == "+14155550142"  # empty on the primary: the duplicate's
    assert lead["contact"]["sms_opt_out"] is True  # an opt-out on either lead is kept
    assert lead["tags"] == ["vip"]
    assert response.json()["merge"]["taken_from_duplicate"] == ["contact.email", "contact.phone", "contact.sms_opt_out"]


def test_merge_moves_the_duplicates_rows_and_archives_it(api_client, manager, agent, pair):
    primary, duplicate = pair
    duplicate_interactions = set(duplicate.interactions.values_list("pk", flat=True))
    duplicate_status_changes = {pk for pk, _, _ in status_history(duplicate)}
    client = api_client(manager)

    response = client.post(merge_url(primary), {"duplicate_id": duplicate.public_id}, format="json")

    body = response.json()
    assert {item["summary"] for item in body["lead"]["interactions"]} == {
        f"Call on {primary.public_id}",
        f"Call on {duplicate.public_id}",
    }
    assert duplicate_interactions <= set(Interaction.objects.filter(lead=primary).values_list("pk", flat=True))
    assert duplicate_status_changes <= {pk for pk, _, _ in status_history(primary)}
    # the duplicate's open follow-up is now the primary agent's
    assert [assignee for _, assignee, _ in follow_ups(primary)] == [agent.pk, agent.pk]
    assert body["merge"]["moved"] == {"interactions": 1, "status_changes": 2, "follow_ups": 1}
    duplicate.refresh_from_db()
    assert (duplicate.merged_into, duplicate.archived_by) == (primary, manager)
    assert duplicate.archived_at is not None
    assert_error(client.get(lead_url(duplicate.public_id)), 404, "not_found")
    # both versions moved on, each with the merge's events (the after-save work's outbox)
    primary.refresh_from_db()
    assert (primary.version, duplicate.version) == (3, 4)
    merge_events = LeadEvent.objects.filter(kind__in=["lead.merged", "lead.archived"])
    assert sorted(merge_events.values_list("lead_id", "kind", "lead_version")) == sorted(
        [(primary.pk, "lead.merged", 3), (duplicate.pk, "lead.archived", 4)]
    )


def test_merge_and_undo_are_in_the_audit_history(api_client, manager, pair):
    primary, duplicate = pair
    client = api_client(manager)
    merge_id = client.post(
        merge_url(primary), {"duplicate_id": duplicate.public_id}, format="json", HTTP_X_REQUEST_ID="m-1"
    ).json()["merge"]["id"]

    entries = AuditEntry.objects.filter(request_id="m-1")
    assert {(entry.lead_id, entry.field) for entry in entries} == {
        (primary.pk, "merged"),
        (primary.pk, "contact.phone"),
        (primary.pk, "contact.sms_opt_out"),
        (duplicate.pk, "merged_into"),
    }
    assert len({entry.changeset for entry in entries}) == 1
    assert {(entry.actor, entry.channel) for entry in entries} == {(manager, AuditChannel.API)}
    assert entries.get(field="merged").new_value["merge_id"] == merge_id

    client.post(undo_url(merge_id))
    history = client.get(f"{lead_url(primary.public_id)}/history").json()["history"]
    assert {entry["field"] for entry in history[:3]} == {"merge_undone", "contact.phone", "contact.sms_opt_out"}


def test_undo_twice_is_a_conflict(api_client, manager, pair):
    primary, duplicate = pair
    client = api_client(manager)
    merge_id = client.post(merge_url(primary), {"duplicate_id": duplicate.public_id}, format="json").json()["merge"][
        "id"
    ]
    assert client.post(undo_url(merge_id)).status_code == 200
    before = db_snapshot()

    assert_error(client.post(undo_url(merge_id)), 409, "conflict")
    assert db_snapshot() == before


def test_undo_after_the_primary_changed_is_refused_unless_forced(api_client, manager, pair):
    primary, duplicate = pair
    client = api_client(manager)
    merge_id = client.post(merge_url(primary), {"duplicate_id": duplicate.public_id}, format="json").json()["merge"][
        "id"
    ]
    client.put(lead_url(primary.public_id), {"lead_type": "investor"}, format="json")
    before = db_snapshot()

    error = assert_error(client.post(undo_url(merge_id)), 409, "conflict")

    assert "force=true" in error["message"]
    assert db_snapshot() == before
    forced = client.post(f"{undo_url(merge_id)}?force=true")
    assert forced.status_code == 200
    assert forced.json()["primary"]["lead_type"] == "buyer"
    assert forced.json()["duplicate"]["status"] == "qualified"


def test_agents_may_not_merge_or_undo(api_client, manager, agent):
    own, also_own = LeadFactory(assigned_to=agent), LeadFactory(assigned_to=agent)
    merge_id = (
        api_client(manager)
        .post(merge_url(own), {"duplicate_id": also_own.public_id}, format="json")
        .json()["merge"]["id"]
    )
    before = db_snapshot()

    assert_error(
        api_client(agent).post(merge_url(own), {"duplicate_id": also_own.public_id}, format="json"),
        403,
        "permission_denied",
    )
    assert_error(api_client(agent).post(undo_url(merge_id)), 403, "permission_denied")
    assert_error(api_client(agent).get(f"/api/v2/merges/{merge_id}"), 403, "permission_denied")
    assert db_snapshot() == before


def test_merging_a_lead_with_itself_is_a_400(api_client, manager):
    lead = LeadFactory()

    error = assert_error(
        api_client(manager).post(merge_url(lead), {"duplicate_id": lead.public_id}, format="json"),
        400,
        "validation_error",
    )

    assert "duplicate_id" in error["fields"]
    assert not LeadMerge.objects.exists()


def test_merging_an_archived_or_missing_lead_is_a_404(api_client, manager):
    lead, archived = LeadFactory(), LeadFactory(archived_at=timezone.now())
    client = api_client(manager)
    before = db_snapshot()

    assert_error(client.post(merge_url(lead), {"duplicate_id": archived.public_id}, format="json"), 404, "not_found")
    assert_error(client.post(merge_url(archived), {"duplicate_id": lead.public_id}, format="json"), 404, "not_found")
    assert_error(client.post(merge_url(lead), {"duplicate_id": "lead_0000"}, format="json"), 404, "not_found")
    assert_error(client.post("/api/v2/merges/merge_0000/undo"), 404, "not_found")
    assert db_snapshot() == before


def test_an_agent_cannot_learn_of_a_lead_it_does_not_see(api_client, agent, other_agent):
    hidden, own = LeadFactory(assigned_to=other_agent), LeadFactory(assigned_to=agent)

    response = api_client(agent).post(merge_url(hidden), {"duplicate_id": own.public_id}, format="json")

    assert_error(response, 404, "not_found")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"duplicate_id": "lead_x", "prefer": {"contact.email": "both"}}, "prefer.contact.email"),
        ({"duplicate_id": "lead_x", "prefer": {"password": "duplicate"}}, "prefer.password"),
        (
            {"duplicate_id": "lead_x", "prefer": {"contact.phone_is_valid": "duplicate"}},
            "prefer.contact.phone_is_valid",
        ),
        ({"prefer": {}}, "duplicate_id"),
        ({"duplicate_id": ["lead_x"]}, "duplicate_id"),
    ],
)
def test_bad_merge_input_is_a_400_and_changes_nothing(api_client, manager, body, field):
    primary, duplicate = LeadFactory(), LeadFactory()
    if body.get("duplicate_id") == "lead_x":
        body = {**body, "duplicate_id": duplicate.public_id}
    before = db_snapshot()

    error = assert_error(api_client(manager).post(merge_url(primary), body, format="json"), 400, "validation_error")

    assert field in error["fields"]
    assert db_snapshot() == before


def test_chosen_values_that_make_an_invalid_lead_are_a_400(api_client, manager):
    primary = LeadFactory(preferences__min_price=600000, preferences__max_price=900000)
    duplicate = LeadFactory(preferences__min_price=100000, preferences__max_price=500000)
    before = db_snapshot()

    error = assert_error(
        api_client(manager).post(
            merge_url(primary),
            {"duplicate_id": duplicate.public_id, "prefer": {"preferences.max_price": "duplicate"}},
            format="json",
        ),
        400,
        "validation_error",
    )

    assert "preferences.min_price" in error["fields"]
    assert db_snapshot() == before


def test_undo_refuses_a_bad_force_value(api_client, manager):
    primary, duplicate = LeadFactory(), LeadFactory()
    client = api_client(manager)
    merge_id = client.post(merge_url(primary), {"duplicate_id": duplicate.public_id}, format="json").json()["merge"][
        "id"
    ]

    assert_error(client.post(f"{undo_url(merge_id)}?force=maybe"), 400, "validation_error")
    assert LeadMerge.objects.get().undone_at is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_crossed_concurrent_merges_make_one_merge_and_undo_runs_once(api_client):
    if connection.vendor != "postgresql":
        pytest.skip("runs in the PostgreSQL pass")
    # given two managers merging the same two leads at the same moment, each keeping a different one
    first, second = LeadFactory(), LeadFactory()
    clients = [api_client(UserFactory(username=f"boss{number}", role="manager")) for number in range(2)]
    crossed = [(first, second), (second, first)]

    answers, errors = run_at_once(
        2,
        lambda index: clients[index].post(
            merge_url(crossed[index][0]), {"duplicate_id": crossed[index][1].public_id}, format="json"
        ),
    )

    # then one merge is made and the other finds its lead gone (no deadlock, no 500)
    assert errors == []
    assert sorted(answer.status_code for answer in answers) == [201, 404]
    merge = LeadMerge.objects.get()
    undos, errors = run_at_once(2, lambda index: clients[index].post(undo_url(merge.public_id)))
    assert errors == []
    assert sorted(undo.status_code for undo in undos) == [200, 409]
    assert Lead.objects.filter(archived_at__isnull=True).count() == 2


# --- the admin ---------------------------------------------------------------------


def confirm_page_defaults(page) -> dict[str, str]:
    """What the merge confirm page posts if submitted as shown."""
    form = page.context["form"]
    return {name: form[name].value() for name in form.fields}


def test_admin_merge_asks_which_values_win_then_merges(client, admin_user):
    older = LeadFactory(contact__email="first@example.com", timeline__urgency_level="low")
    newer = LeadFactory(contact__email="second@example.com", timeline__urgency_level="urgent")
    client.force_login(admin_user)
    changelist = reverse("admin:leads_lead_changelist")
    selected = {"action": "merge_leads", ACTION_CHECKBOX_NAME: [older.pk, newer.pk]}

    # the confirm page lists each differing field with a radio button per lead
    page = client.post(changelist, selected)
    assert page.status_code == 200
    html = page.content.decode()
    assert "first@example.com" in html and "second@example.com" in html
    assert 'name="take__contact__email"' in html

    # keep the older lead, take the newer lead's email
    choices = {**confirm_page_defaults(page), "keep": "a", "take__contact__email": "b"}
    response = client.post(changelist, {**selected, **choices, "apply": "1"})

    assert response.status_code == 302
    merge = LeadMerge.objects.get()
    assert (merge.primary, merge.duplicate, merge.merged_by) == (older, newer, admin_user)
    older.refresh_from_db()
    assert (older.contact.email, older.timeline.urgency_level) == ("second@example.com", "low")
    assert AuditEntry.objects.filter(lead=older, field="merged", channel=AuditChannel.ADMIN).exists()


def test_admin_merge_needs_exactly_two_leads(client, admin_user):
    leads = LeadFactory.create_batch(3)
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:leads_lead_changelist"),
        {"action": "merge_leads", ACTION_CHECKBOX_NAME: [lead.pk for lead in leads]},
        follow=True,
    )

    assert "Select exactly two leads to merge." in response.content.decode()
    assert not LeadMerge.objects.exists()


def test_admin_undo_action_restores_the_duplicate(client, admin_user):
    primary, duplicate = LeadFactory(), LeadFactory()
    client.force_login(admin_user)
    selected = {"action": "merge_leads", ACTION_CHECKBOX_NAME: [primary.pk, duplicate.pk]}
    page = client.post(reverse("admin:leads_lead_changelist"), selected)
    client.post(reverse("admin:leads_lead_changelist"), {**selected, **confirm_page_defaults(page), "apply": "1"})
    merge = LeadMerge.objects.get()

    response = client.post(
        reverse("admin:leads_leadmerge_changelist"), {"action": "undo", ACTION_CHECKBOX_NAME: [merge.pk]}, follow=True
    )

    assert f"Undid {merge.public_id}" in response.content.decode()
    duplicate.refresh_from_db()
    assert (duplicate.archived_at, duplicate.merged_into) == (None, None)
    again = client.post(
        reverse("admin:leads_leadmerge_changelist"), {"action": "undo", ACTION_CHECKBOX_NAME: [merge.pk]}, follow=True
    )
    assert "was not undone: This merge was already undone" in again.content.decode()
