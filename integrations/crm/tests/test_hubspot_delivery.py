"""Delivering leads to HubSpot's contacts API, played by a real HTTP server on loopback."""

import pytest

from integrations.crm.hubspot.mapping import contact_properties
from integrations.crm.models import SyncStatus
from integrations.crm.services import deliver, enqueue_sync
from integrations.crm.tests.conftest import HUBSPOT_TOKEN, Reply
from integrations.outbox import Outcome
from leads.core.services import LeadManagementService
from leads.models import LeadStatus
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def upserted(contact_id: str) -> Reply:
    return Reply(200, {"status": "COMPLETE", "results": [{"id": contact_id, "new": True, "properties": {}}]})


def test_a_lead_is_upserted_as_a_hubspot_contact_by_email(hubspot_target):
    # given a lead with a contact HubSpot can match by email
    hubspot_target.answer(upserted("9001"))
    lead = LeadFactory(
        status=LeadStatus.NEW,
        contact__first_name="Ada",
        contact__last_name="Lovelace",
        contact__email="ada@example.com",
        contact__phone="+14155550100",
    )
    (record,) = enqueue_sync(lead)
    # when it is delivered
    assert deliver(record.pk) == Outcome.SENT
    # then HubSpot got one batch upsert keyed on email, with the bearer token
    (request,) = hubspot_target.received
    assert (request.method, request.path) == ("POST", "/crm/v3/objects/contacts/batch/upsert")
    assert request.headers["authorization"] == f"Bearer {HUBSPOT_TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {
        "inputs": [
            {
                "id": "ada@example.com",
                "idProperty": "email",
                "properties": {
                    "email": "ada@example.com",
                    "firstname": "Ada",
                    "lastname": "Lovelace",
                    "phone": "+14155550100",
                    "hs_lead_status": "NEW",
                },
            }
        ]
    }
    # and the contact's HubSpot id is kept
    record.refresh_from_db()
    assert (record.status, record.external_id, record.synced_version) == (SyncStatus.SYNCED, "9001", 1)


def test_the_next_version_updates_the_same_contact_by_its_id(hubspot_target, manager):
    # given a lead already in HubSpot as contact 9001
    hubspot_target.answer(upserted("9001"), Reply(200, {"id": "9001", "properties": {}}))
    lead = LeadFactory(contact__email="ada@example.com")
    (record,) = enqueue_sync(lead)
    deliver(record.pk)
    # when its email and status change
    lead = LeadManagementService(manager).update_lead(
        lead.public_id, {"contact": {"email": "ada.l@example.com"}, "status": LeadStatus.QUALIFIED}
    )
    enqueue_sync(lead)
    assert deliver(record.pk) == Outcome.SENT
    # then that contact is patched (so the new email does not make a second contact)
    update = hubspot_target.received[1]
    assert (update.method, update.path) == ("PATCH", "/crm/v3/objects/contacts/9001")
    assert update.json()["properties"]["email"] == "ada.l@example.com"
    assert update.json()["properties"]["hs_lead_status"] == "IN_PROGRESS"
    record.refresh_from_db()
    assert (record.external_id, record.synced_version) == ("9001", 2)


def test_a_contact_deleted_in_hubspot_is_upserted_again(hubspot_target, manager):
    hubspot_target.answer(upserted("9001"), Reply(404, {"message": "resource not found"}), upserted("9555"))
    lead = LeadFactory(contact__email="ada@example.com")
    (record,) = enqueue_sync(lead)
    deliver(record.pk)
    lead = LeadManagementService(manager).update_lead(lead.public_id, {"tags": ["vip"]})
    enqueue_sync(lead)
    # when the patch of the known contact finds nothing
    assert deliver(record.pk) == Outcome.SENT
    # then the lead is upserted by email and the new id kept
    assert [(r.method, r.path) for r in hubspot_target.received[1:]] == [
        ("PATCH", "/crm/v3/objects/contacts/9001"),
        ("POST", "/crm/v3/objects/contacts/batch/upsert"),
    ]
    record.refresh_from_db()
    assert record.external_id == "9555"


def test_a_lead_without_email_is_created_then_updated_by_id(hubspot_target, manager):
    hubspot_target.answer(Reply(201, {"id": "777", "properties": {}}), Reply(200, {"id": "777"}))
    lead = LeadFactory(contact__email="", contact__phone="+14155550199")
    (record,) = enqueue_sync(lead)
    assert deliver(record.pk) == Outcome.SENT
    create = hubspot_target.received[0]
    assert (create.method, create.path) == ("POST", "/crm/v3/objects/contacts")
    assert "email" not in create.json()["properties"]
    assert create.json()["properties"]["phone"] == "+14155550199"
    lead = LeadManagementService(manager).update_lead(lead.public_id, {"tags": ["phone-only"]})
    enqueue_sync(lead)
    deliver(record.pk)
    assert (hubspot_target.received[1].method, hubspot_target.received[1].path) == (
        "PATCH",
        "/crm/v3/objects/contacts/777",
    )


def test_a_rejected_token_makes_the_record_dead(hubspot_target):
    hubspot_target.answer(Reply(401, {"status": "error", "message": "Authentication credentials not found."}))
    (record,) = enqueue_sync(LeadFactory())
    assert deliver(record.pk) == Outcome.DEAD
    record.refresh_from_db()
    assert record.status == SyncStatus.DEAD
    assert "HTTP 401" in record.last_error and "Authentication credentials" in record.last_error
    assert len(hubspot_target.received) == 1


def test_hubspot_rate_limit_is_retried_later(hubspot_target):
    hubspot_target.answer(Reply(429, {"status": "error", "policyName": "TEN_SECONDLY_ROLLING"}))
    (record,) = enqueue_sync(LeadFactory())
    assert deliver(record.pk) == Outcome.FAILED
    record.refresh_from_db()
    assert record.status == SyncStatus.FAILED
    assert record.next_attempt_at > record.last_attempt_at


def test_an_upsert_that_reports_errors_is_not_taken_as_synced(hubspot_target):
    hubspot_target.answer(
        Reply(207, {"status": "COMPLETE", "results": [], "errors": [{"message": "Property values were not valid"}]})
    )
    (record,) = enqueue_sync(LeadFactory())
    assert deliver(record.pk) == Outcome.DEAD
    record.refresh_from_db()
    assert "Property values were not valid" in record.last_error
    assert record.external_id == ""


@pytest.mark.parametrize(
    ("status", "hs_lead_status"),
    [
        (LeadStatus.NEW, "NEW"),
        (LeadStatus.CONTACTED, "CONNECTED"),
        (LeadStatus.SHOWING, "IN_PROGRESS"),
        (LeadStatus.UNDER_CONTRACT, "OPEN_DEAL"),
        (LeadStatus.LOST, "UNQUALIFIED"),
        (LeadStatus.NURTURE, "BAD_TIMING"),
    ],
)
def test_pipeline_stages_map_to_hubspot_lead_statuses(status, hs_lead_status):
    lead = LeadFactory(status=status)
    assert contact_properties(lead)["hs_lead_status"] == hs_lead_status


def test_every_pipeline_stage_has_a_hubspot_lead_status():
    from integrations.crm.hubspot.mapping import HS_LEAD_STATUS

    assert set(HS_LEAD_STATUS) == set(LeadStatus)
