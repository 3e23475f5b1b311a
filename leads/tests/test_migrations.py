"""A database made at the previous release's head migrates forward without losing a row.

The release before the one-write-path work ended at leads 0010, integrations 0002,
crm 0001 and webhooks 0001. This test migrates an empty database back there, fills
it through the historical models (a lead with its parts, history, an interaction, a
CRM sync record, a webhook subscription and two deliveries), migrates to today's head
and reads everything back through today's models.
"""

import uuid
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from integrations.crm.models import CrmSyncRecord
from integrations.models import PeriodicJobState
from integrations.webhooks.models import WebhookDelivery, WebhookSubscription
from leads.models import AuditEntry, Interaction, Lead, LeadCount, LeadEvent
from leads.reporting import counts
from leads.tests.factories import LeadFactory

PREVIOUS_HEAD = [
    ("leads", "0010_lead_counts_delete_guard"),
    ("integrations", "0002_pipelinejob_queued_index"),
    ("crm", "0001_initial"),
    ("webhooks", "0001_initial"),
]


@pytest.fixture
def at_previous_head(transactional_db):
    """The database migrated back to the previous head; always migrated forward again."""
    executor = MigrationExecutor(connection)
    executor.migrate(PREVIOUS_HEAD)
    try:
        yield executor.loader.project_state(PREVIOUS_HEAD).apps
    finally:
        migrate_to_head()


def migrate_to_head() -> None:
    """As ``manage.py migrate`` does it: to the leaf nodes, then post_migrate."""
    call_command("migrate", verbosity=0)


def test_a_database_at_the_previous_head_migrates_forward_with_every_row(at_previous_head):
    # given rows written by the previous release's models
    old = at_previous_head
    user = old.get_model("leads", "User").objects.create(username="old_agent", role="agent")
    lead = old.get_model("leads", "Lead").objects.create(
        public_id="lead_" + "a" * 24,
        lead_type="buyer",
        source="website",
        status="contacted",
        assigned_to=user,
        version=3,
    )
    old.get_model("leads", "Contact").objects.create(lead=lead, first_name="Ada", email="ada@example.com")
    old.get_model("leads", "Preferences").objects.create(lead=lead, min_price=Decimal("300000"))
    old.get_model("leads", "Timeline").objects.create(lead=lead, urgency_level="high")
    old.get_model("leads", "Interaction").objects.create(
        lead=lead, type="call", summary="Intro", occurred_at=timezone.now(), created_by=user
    )
    old.get_model("leads", "AuditEntry").objects.create(
        lead=lead, changeset=uuid.uuid4(), field="status", old_value="new", new_value="contacted", channel="api",
        at=timezone.now(),
    )  # fmt: skip
    old.get_model("crm", "CrmSyncRecord").objects.create(
        lead=lead, target="webhook", wanted_version=3, synced_version=2, idempotency_key="k", attempts=2
    )
    subscription = old.get_model("webhooks", "WebhookSubscription").objects.create(
        owner=user,
        name="Old hook",
        url="https://93.184.216.34/hook",
        secret="whsec_" + "x" * 30,
        events=["lead.created"],
    )
    deliveries = old.get_model("webhooks", "WebhookDelivery")
    for status in ("delivered", "failed"):
        deliveries.objects.create(
            subscription=subscription, event="lead.created", lead_public_id=lead.public_id, payload={}, status=status
        )

    # when the database is migrated to today's head
    migrate_to_head()

    # then every row reads back through today's models, unchanged
    migrated = Lead.objects.select_related("contact", "preferences", "timeline", "assigned_to").get(pk=lead.pk)
    assert (migrated.public_id, migrated.status, migrated.version, migrated.assigned_to.username) == (
        "lead_" + "a" * 24,
        "contacted",
        3,
        "old_agent",
    )
    assert (migrated.contact.email, migrated.preferences.min_price, migrated.timeline.urgency_level) == (
        "ada@example.com",
        Decimal("300000.00"),
        "high",
    )
    assert Interaction.objects.get(lead=migrated).summary == "Intro"
    assert AuditEntry.objects.get(lead=migrated).new_value == "contacted"
    record = CrmSyncRecord.objects.get(lead=migrated)
    assert (record.wanted_version, record.synced_version, record.attempts) == (3, 2, 2)
    hook = WebhookSubscription.objects.get(name="Old hook")
    assert sorted(WebhookDelivery.objects.filter(subscription=hook).values_list("status", "sequence")) == [
        ("delivered", 0),
        ("failed", 0),
    ]
    # the counters still count the lead, and the new tables are there and empty
    assert sum(LeadCount.objects.filter(assigned_to_key=user.pk).values_list("n", flat=True)) == 1
    assert LeadEvent.objects.count() == 0
    assert PeriodicJobState.objects.count() == 0


def test_migrate_puts_back_the_counter_triggers_a_sqlite_rebuild_dropped(transactional_db):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite rebuilds tables to alter them; PostgreSQL keeps its triggers (runs in the SQLite pass)")
    # given a leads_lead that lost a counter trigger (as a rebuild of the table does)
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER leads_lead_count_insert")
    # when the database is migrated
    call_command("migrate", verbosity=0)
    # then new leads are counted again
    LeadFactory.create_batch(2)
    assert counts.differences() == {}
    assert sum(LeadCount.objects.filter(assigned_to_key=counts.TEAM_KEY).values_list("n", flat=True)) == 2
