"""Writers racing on one lead keep every field, and the history equals the data
(PostgreSQL: threads with their own connections).

Before the one write path, a writer that waited for the lead's lock saved back the
contact, preferences and timeline it had read before the wait, so concurrent PATCHes
to different nested fields lost values while the audit history still listed them.
"""

from decimal import Decimal
from functools import partial

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test import Client
from django.urls import reverse

from leads.audit import history as audit
from leads.core.services import LeadManagementService
from leads.merges.services import lead_merge
from leads.models import AuditChannel, AuditEntry, Lead, LeadStatus
from leads.tests.api_assertions import lead_url
from leads.tests.concurrency import run_at_once
from leads.tests.factories import UserFactory
from leads.tests.test_admin import change_url, page_data

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 4

# The eight PATCHes: two to each nested part, and the tags.
PATCHES = [
    {"contact": {"first_name": "F1"}},
    {"contact": {"last_name": "L2"}},
    {"preferences": {"min_price": 111000}},
    {"preferences": {"max_price": 999000}},
    {"preferences": {"min_bedrooms": 3}},
    {"timeline": {"urgency_level": "urgent"}},
    {"timeline": {"financing_status": "cash"}},
    {"tags": ["x"]},
]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("concurrent connections are tested in the PostgreSQL pass (DATABASE_URL=postgres://...)")


def new_lead(manager, agent, *, email: str) -> Lead:
    """A lead made through the service (so its history starts with "created")."""
    return LeadManagementService(manager).create_lead(
        {
            "contact": {"first_name": "Ada", "last_name": "", "email": email, "phone": "+14155550100"},
            "lead_type": "buyer",
            "source": "website",
            "assigned_to": agent,
            "preferences": {"min_price": Decimal("100000"), "max_price": Decimal("1000000")},
            "timeline": {"urgency_level": "normal"},
        }
    )


def stored(lead: Lead) -> dict:
    """The lead's audited values as stored now (the assignee by username)."""
    fresh = Lead.objects.select_related("contact", "preferences", "timeline", "assigned_to").get(pk=lead.pk)
    values = audit.audited_values(fresh)
    values["assigned_to"] = fresh.assigned_to.username if fresh.assigned_to else None
    return values


def replayed_history(lead: Lead) -> dict:
    """The values the audit history says the lead has: its creation, then every change in order."""
    entries = list(AuditEntry.objects.filter(lead=lead).order_by("pk"))
    assert entries[0].field == audit.Event.CREATED
    values = dict(entries[0].new_value)
    for entry in entries[1:]:
        if entry.field in values:
            assert values[entry.field] == entry.old_value, f"{entry.field}: the history skips a change"
            values[entry.field] = entry.new_value
    return values


def bearer_client(user):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {Token.objects.get_or_create(user=user)[0].key}")
    return client


def test_eight_concurrent_patches_to_nested_fields_all_stick(manager, agent):
    for round_number in range(ROUNDS):
        race_eight_patches(manager, agent, round_number)


def race_eight_patches(manager, agent, round_number: int) -> None:
    # given a lead and eight PATCHes sent at once, two to each nested part
    lead = new_lead(manager, agent, email=f"race{round_number}@example.com")
    clients = [bearer_client(manager) for _ in PATCHES]

    # when they all run at the same moment
    answers, errors = run_at_once(
        len(PATCHES), lambda index: clients[index].patch(lead_url(lead.public_id), PATCHES[index], format="json")
    )

    # then every one answered 200, made its own version, and kept its value
    assert errors == []
    assert [answer.status_code for answer in answers] == [200] * len(PATCHES)
    fresh = Lead.objects.select_related("contact", "preferences", "timeline").get(pk=lead.pk)
    assert fresh.version == 1 + len(PATCHES)
    assert_patched(fresh)
    # and the history equals the data
    assert replayed_history(lead) == stored(lead)


def assert_patched(fresh: Lead) -> None:
    assert (fresh.contact.first_name, fresh.contact.last_name) == ("F1", "L2")
    assert (fresh.preferences.min_price, fresh.preferences.max_price) == (Decimal("111000"), Decimal("999000"))
    assert fresh.preferences.min_bedrooms == 3
    assert (fresh.timeline.urgency_level, fresh.timeline.financing_status) == ("urgent", "cash")
    assert fresh.tags == ["x"]


def test_every_kind_of_writer_racing_on_one_lead_keeps_every_field(manager, agent):
    admin = UserFactory(username="race_admin", role="admin", is_staff=True, is_superuser=True)
    for round_number in range(ROUNDS):
        race_every_writer(manager, agent, admin, round_number)


def race_every_writer(manager, agent, admin, round_number: int) -> None:
    # given a lead, a duplicate of it to merge in, and an admin's change form loaded before the race
    lead = new_lead(manager, agent, email=f"all{round_number}@example.com")
    duplicate = new_lead(manager, agent, email=f"dup{round_number}@example.com")
    admin_client = Client()
    admin_client.force_login(admin)
    form = page_data(admin_client.get(change_url(lead)))
    form["contact-0-best_time_to_contact"] = "Evenings"
    api = [bearer_client(manager) for _ in range(len(PATCHES) + 3)]
    url = lead_url(lead.public_id)

    writers = [
        *(partial(api[index].patch, url, body, format="json") for index, body in enumerate(PATCHES)),
        partial(api[8].put, url, {"preferences": {"preferred_locations": ["Oakland"]}}, format="json"),
        partial(
            api[9].post, lead_url(lead.public_id, interactions=True), {"type": "call", "summary": "Hi"}, format="json"
        ),
        partial(api[10].patch, url, {"status": "qualified"}, format="json"),
        partial(
            lead_merge,
            actor=manager,
            primary_id=lead.public_id,
            duplicate_id=duplicate.public_id,
            context=audit.AuditContext(actor=manager, channel=AuditChannel.API),
        ),
        partial(admin_client.post, change_url(lead), form),
        partial(admin_bulk_status, admin, lead),
    ]

    # when they all run at once
    answers, errors = run_at_once(len(writers), lambda index: writers[index]())

    # then every writer succeeded, except the admin's form if the lead moved on after it was loaded
    assert errors == []
    statuses = [getattr(answer, "status_code", "merged") for answer in answers]
    assert statuses[:12] == [200] * 8 + [200, 201, 200, "merged"]
    admin_saved = statuses[12] == 302
    assert admin_saved or "is at version" in answers[12].content.decode()
    assert statuses[13] == 302  # the bulk action applied (a no-op when the lead is qualified already)
    fresh = Lead.objects.select_related("contact", "preferences", "timeline").get(pk=lead.pk)
    assert_patched(fresh)
    assert fresh.preferences.preferred_locations == ["Oakland"]
    assert fresh.status == LeadStatus.QUALIFIED
    assert fresh.contact.best_time_to_contact == ("Evenings" if admin_saved else "")
    assert fresh.interactions.filter(summary="Hi").count() == 1
    assert Lead.objects.get(pk=duplicate.pk).merged_into_id == lead.pk
    # and for both leads the history equals the data
    assert replayed_history(lead) == stored(lead)
    assert replayed_history(duplicate) == stored(duplicate)


def admin_bulk_status(admin, lead: Lead):
    """The admin's bulk "change status" action on the lead, from its own client."""
    client = Client()
    client.force_login(admin)
    return client.post(
        reverse("admin:leads_lead_changelist"),
        {ACTION_CHECKBOX_NAME: [lead.pk], "action": "change_status", "status": "qualified", "apply": "Apply"},
    )
