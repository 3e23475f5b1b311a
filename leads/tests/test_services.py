"""LeadManagementService, called directly: each write is one transaction, a
failed or rolled-back write leaves nothing behind and schedules no after-save work."""

import re
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from leads.core.services import LeadManagementService
from leads.errors import NotFound, PermissionDenied, PreconditionFailed, ValidationFailed
from leads.models import Interaction, Lead, LeadEvent, LeadStatus, StatusChange
from leads.tests.api_assertions import db_snapshot
from leads.tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


def lead_data(**overrides) -> dict:
    """Validated create values, as the API serializer hands them to the service."""
    return {
        "contact": {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"},
        "lead_type": "buyer",
        "source": "referral",
        "preferences": {"property_types": ["condo"], "min_price": Decimal("400000"), "max_price": Decimal("600000")},
        "timeline": {"urgency_level": "high"},
        **overrides,
    }


def after_save_state() -> tuple[int, int]:
    return LeadEvent.objects.count(), Lead.objects.count()


def events_of(lead) -> list[tuple[str, int]]:
    """The events the lead's saves recorded (the after-save work's outbox), oldest first."""
    return list(LeadEvent.objects.filter(lead=lead).order_by("pk").values_list("kind", "lead_version"))


# --- create ---------------------------------------------------------------------------


def test_create_lead_writes_the_lead_its_parts_and_its_first_status(agent):
    lead = LeadManagementService(agent).create_lead(lead_data())

    assert lead.public_id.startswith("lead_") and len(lead.public_id) == 29
    assert (lead.assigned_to, lead.status, lead.version) == (agent, LeadStatus.NEW, 1)
    assert (lead.contact.email, lead.preferences.property_types, lead.timeline.urgency_level) == (
        "ada@example.com",
        ["condo"],
        "high",
    )
    [change] = StatusChange.objects.filter(lead=lead)
    assert (change.from_status, change.to_status, change.changed_by) == ("", "new", agent)


def test_created_lead_ids_are_opaque_random_hex(agent):
    service = LeadManagementService(agent)

    ids = [service.create_lead(lead_data()).public_id for _ in range(5)]

    assert len(set(ids)) == 5
    assert all(re.fullmatch(r"lead_[0-9a-f]{24}", lead_id) for lead_id in ids)


def test_a_committed_create_schedules_the_after_save_work_once(agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        lead = LeadManagementService(agent).create_lead(lead_data())

    assert len(callbacks) == 1
    assert events_of(lead) == [("lead.created", 1)]


def test_a_manager_creates_unassigned_leads_unless_naming_an_agent(manager, agent):
    service = LeadManagementService(manager)

    unassigned = service.create_lead(lead_data())
    assigned = service.create_lead(lead_data(assigned_to=agent))

    assert (unassigned.assigned_to, assigned.assigned_to) == (None, agent)


def test_an_agent_cannot_create_a_lead_for_someone_else(agent, other_agent):
    before = db_snapshot()

    with pytest.raises(PermissionDenied):
        LeadManagementService(agent).create_lead(lead_data(assigned_to=other_agent))

    assert db_snapshot() == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"contact": {"first_name": "Nobody"}}, "contact"),
        ({"preferences": {"min_price": Decimal("9"), "max_price": Decimal("1")}}, "preferences.min_price"),
        ({"preferences": {"max_price": Decimal("-1")}}, "preferences.max_price"),
    ],
)
def test_create_lead_refuses_rule_violations_and_writes_nothing(agent, overrides, field):
    before = db_snapshot()

    with pytest.raises(ValidationFailed) as error:
        LeadManagementService(agent).create_lead(lead_data(**overrides))

    assert field in error.value.fields
    assert db_snapshot() == before


def test_a_create_failing_half_way_rolls_back_everything(agent, django_capture_on_commit_callbacks):
    # given a value only the database refuses, on the last part to be written
    data = lead_data(timeline={"pre_approval_amount": Decimal("-1")})
    before = db_snapshot()

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(IntegrityError):
        LeadManagementService(agent).create_lead(data)

    # then the lead, contact and preferences written before it are gone too
    assert db_snapshot() == before
    assert callbacks == []
    assert LeadEvent.objects.count() == 0


def test_a_rolled_back_outer_transaction_schedules_no_after_save_work(agent, django_capture_on_commit_callbacks):
    # given a caller (an import, a command) that wraps several service calls in its own transaction
    lead = LeadFactory(assigned_to=agent)
    service = LeadManagementService(agent)
    before = db_snapshot()

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError), transaction.atomic():
        service.create_lead(lead_data())
        service.update_lead(lead.public_id, {"status": LeadStatus.QUALIFIED})
        service.add_interaction(lead.public_id, {"type": "call", "summary": "Hi"})
        raise RuntimeError("the caller gives up")

    assert callbacks == []
    assert LeadEvent.objects.count() == 0
    assert db_snapshot() == before


# --- update ---------------------------------------------------------------------------


def test_update_lead_merges_nested_parts_and_bumps_the_version(agent, django_capture_on_commit_callbacks):
    lead = LeadFactory(assigned_to=agent, preferences__min_price=300000, preferences__max_price=500000)

    with django_capture_on_commit_callbacks() as callbacks:
        updated = LeadManagementService(agent).update_lead(
            lead.public_id, {"preferences": {"preferred_locations": ["Oakland"]}, "timeline": {"urgency_level": "low"}}
        )

    assert updated.preferences.preferred_locations == ["Oakland"]
    assert (updated.preferences.min_price, updated.preferences.max_price) == (300000, 500000)
    assert updated.timeline.urgency_level == "low"
    assert updated.contact.email == lead.contact.email
    assert updated.version == 2
    assert len(callbacks) == 1
    assert events_of(lead) == [("lead.updated", 2)]


def test_update_lead_with_nothing_new_is_a_no_op(agent, django_capture_on_commit_callbacks):
    lead = LeadFactory(assigned_to=agent)
    before = db_snapshot()

    with django_capture_on_commit_callbacks() as callbacks:
        LeadManagementService(agent).update_lead(
            lead.public_id, {"lead_type": lead.lead_type, "contact": {"first_name": lead.contact.first_name}}
        )

    assert db_snapshot() == before
    assert callbacks == []


def test_update_lead_records_a_status_change(agent):
    lead = LeadFactory(assigned_to=agent)

    LeadManagementService(agent).update_lead(lead.public_id, {"status": LeadStatus.QUALIFIED})

    change = StatusChange.objects.get(lead=lead)
    assert (change.from_status, change.to_status, change.changed_by) == ("new", "qualified", agent)


def test_update_lead_checks_the_merged_price_range(agent):
    lead = LeadFactory(assigned_to=agent, preferences__min_price=300000, preferences__max_price=500000)
    before = db_snapshot()

    with pytest.raises(ValidationFailed) as error:
        LeadManagementService(agent).update_lead(lead.public_id, {"preferences": {"min_price": Decimal("500001")}})

    assert set(error.value.fields) == {"preferences.min_price"}
    assert db_snapshot() == before


def test_update_lead_with_a_stale_version_is_refused(agent):
    lead = LeadFactory(assigned_to=agent, version=3)
    before = db_snapshot()

    with pytest.raises(PreconditionFailed):
        LeadManagementService(agent).update_lead(lead.public_id, {"status": "lost"}, expected_version=2)

    assert db_snapshot() == before


def test_an_update_failing_half_way_leaves_the_earlier_parts_unchanged(agent, django_capture_on_commit_callbacks):
    # given a change to the contact (saved first) and one the database refuses (saved last)
    lead = LeadFactory(assigned_to=agent)
    before = db_snapshot()

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(IntegrityError):
        LeadManagementService(agent).update_lead(
            lead.public_id,
            {"contact": {"first_name": "Changed"}, "timeline": {"pre_approval_amount": Decimal("-5")}},
        )

    assert db_snapshot() == before
    assert callbacks == []


def test_update_lead_of_an_invisible_lead_is_not_found(agent, other_agent):
    lead = LeadFactory(assigned_to=other_agent)

    with pytest.raises(NotFound):
        LeadManagementService(agent).update_lead(lead.public_id, {"status": "lost"})


# --- interactions -------------------------------------------------------------------------


def test_add_interaction_is_authored_by_the_actor_and_stamps_contact_times(agent):
    lead = LeadFactory(assigned_to=agent)
    occurred = timezone.now() - timedelta(minutes=5)

    updated, interaction = LeadManagementService(agent).add_interaction(
        lead.public_id, {"type": "call", "summary": "Intro", "occurred_at": occurred}
    )

    assert interaction.created_by == agent
    assert (updated.first_contacted_at, updated.last_contacted_at) == (occurred, occurred)
    assert (updated.status, updated.version) == (LeadStatus.CONTACTED, 2)
    assert StatusChange.objects.get(lead=lead).to_status == LeadStatus.CONTACTED


def test_add_interaction_on_an_invisible_lead_writes_nothing(agent, other_agent):
    lead = LeadFactory(assigned_to=other_agent)
    before = db_snapshot()

    with pytest.raises(NotFound):
        LeadManagementService(agent).add_interaction(lead.public_id, {"type": "call", "summary": "Hi"})

    assert db_snapshot() == before


# --- status and assignment -------------------------------------------------------------------


def test_change_status_records_the_move_and_bumps_the_version(agent, django_capture_on_commit_callbacks):
    lead = LeadFactory(assigned_to=agent, status=LeadStatus.QUALIFIED)

    with django_capture_on_commit_callbacks() as callbacks:
        updated = LeadManagementService(agent).change_status(lead.public_id, LeadStatus.SHOWING)

    assert (updated.status, updated.version) == (LeadStatus.SHOWING, 2)
    change = StatusChange.objects.get(lead=lead)
    assert (change.from_status, change.to_status, change.changed_by) == ("qualified", "showing", agent)
    assert len(callbacks) == 1


def test_change_status_to_the_current_status_is_a_no_op(agent):
    lead = LeadFactory(assigned_to=agent, status=LeadStatus.OFFER)
    before = db_snapshot()

    LeadManagementService(agent).change_status(lead.public_id, LeadStatus.OFFER)

    assert db_snapshot() == before


def test_change_status_refuses_an_unknown_status(agent):
    lead = LeadFactory(assigned_to=agent)
    before = db_snapshot()

    with pytest.raises(ValidationFailed):
        LeadManagementService(agent).change_status(lead.public_id, "won")

    assert db_snapshot() == before


def test_a_manager_assigns_a_lead(manager, agent, other_agent):
    lead = LeadFactory(assigned_to=agent)

    updated = LeadManagementService(manager).assign(lead.public_id, other_agent)

    assert (updated.assigned_to, updated.version) == (other_agent, 2)
    assert events_of(lead) == [("lead.assigned", 2), ("lead.updated", 2)]


def test_a_manager_can_unassign_a_lead(manager, agent):
    lead = LeadFactory(assigned_to=agent)

    assert LeadManagementService(manager).assign(lead.public_id, None).assigned_to is None


def test_assigning_to_the_current_agent_is_a_no_op(manager, agent):
    lead = LeadFactory(assigned_to=agent)
    before = db_snapshot()

    LeadManagementService(manager).assign(lead.public_id, agent)

    assert db_snapshot() == before


def test_an_agent_cannot_assign(agent, other_agent):
    lead = LeadFactory(assigned_to=agent)
    before = db_snapshot()

    with pytest.raises(PermissionDenied):
        LeadManagementService(agent).assign(lead.public_id, other_agent)

    assert db_snapshot() == before


def test_assigning_to_an_inactive_user_is_refused(manager):
    lead = LeadFactory()
    gone = UserFactory(is_active=False)

    with pytest.raises(ValidationFailed):
        LeadManagementService(manager).assign(lead.public_id, gone)

    assert Lead.objects.get(pk=lead.pk).assigned_to != gone


# --- reads ------------------------------------------------------------------------------------


def test_get_lead_answers_visible_leads_only(agent, other_agent):
    mine, theirs = LeadFactory(assigned_to=agent), LeadFactory(assigned_to=other_agent)
    service = LeadManagementService(agent)

    assert service.get_lead(mine.public_id) == mine
    for lead_id in (theirs.public_id, "lead_doesnotexist", "", "x" * 100):
        with pytest.raises(NotFound):
            service.get_lead(lead_id)


def test_list_leads_pages_the_visible_filtered_leads(agent, other_agent):
    LeadFactory.create_batch(5, assigned_to=agent, source="referral")
    LeadFactory(assigned_to=agent, source="website")
    LeadFactory(assigned_to=other_agent, source="referral")

    page = LeadManagementService(agent).list_leads(filters={"source": ["referral"]}, page=2, page_size=2)

    assert (page.total_count, page.page, page.page_size, len(page.leads)) == (5, 2, 2, 2)


def test_list_leads_refuses_invalid_filters(agent):
    with pytest.raises(ValidationFailed) as error:
        LeadManagementService(agent).list_leads(filters={"status": ["won"], "score_min": "high"})

    assert set(error.value.fields) == {"status", "score_min"}


def test_an_inactive_user_sees_no_leads(agent):
    LeadFactory(assigned_to=agent)
    agent.is_active = False

    assert LeadManagementService(agent).list_leads(filters={}).total_count == 0


# --- concurrency (PostgreSQL) -----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writes_to_one_lead_lose_no_version(agent):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent connections are tested in the PostgreSQL pass (DATABASE_URL=postgres://...)")
    # given one lead and two writers that start at the same moment
    lead = LeadFactory(assigned_to=agent)
    start, errors, per_writer = threading.Barrier(2), [], 5

    def writer():
        try:
            start.wait()
            for _ in range(per_writer):
                LeadManagementService(agent).add_interaction(lead.public_id, {"type": "note", "summary": "x"})
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    # when both log interactions at once
    threads = [threading.Thread(target=writer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # then every write got its own version (the row lock serialised them)
    assert errors == []
    assert Interaction.objects.filter(lead=lead).count() == 2 * per_writer
    assert Lead.objects.get(pk=lead.pk).version == 1 + 2 * per_writer
    # and each version recorded its own events, none lost
    versions = sorted({version for _kind, version in events_of(lead)})
    assert versions == list(range(2, 2 + 2 * per_writer))


def test_an_interaction_dated_in_the_future_is_refused_whoever_calls(agent):
    # given a caller that skips the API's and the pages' checks (a command, a task)
    lead = LeadFactory(assigned_to=agent)
    before = db_snapshot()

    # when it logs a call dated next year
    with pytest.raises(ValidationFailed) as error:
        LeadManagementService(agent).add_interaction(
            lead.public_id, {"type": "call", "summary": "Later", "occurred_at": timezone.now() + timedelta(days=365)}
        )

    # then it is refused on occurred_at and nothing changed (no first contact in the future)
    assert "occurred_at" in error.value.fields
    assert db_snapshot() == before
