"""The back office: finding sync failures and replaying them."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from integrations.crm.models import CrmSyncRecord, SyncStatus
from integrations.crm.services import deliver, enqueue_sync
from integrations.crm.tests.conftest import Reply
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:crm_crmsyncrecord_changelist")


def dead_record(server, **lead_fields) -> CrmSyncRecord:
    server.answer(Reply(422, {"error": "unknown field"}))
    (record,) = enqueue_sync(LeadFactory(**lead_fields))
    deliver(record.pk)
    record.refresh_from_db()
    assert record.status == SyncStatus.DEAD
    return record


def test_replay_from_the_admin_sends_a_dead_record_again(
    client, admin_user, webhook_target, celery_eager, django_capture_on_commit_callbacks
):
    # given a record that died on a 422 the receiver has since fixed
    record = dead_record(webhook_target)
    client.force_login(admin_user)
    # when the back office replays it
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(CHANGELIST, {"action": "replay_selected", "_selected_action": [record.pk]}, follow=True)
    # then it is delivered again and synced, from a fresh count of attempts
    assert response.status_code == 200
    assert "Queued 1 record(s) for delivery again." in response.content.decode()
    record.refresh_from_db()
    assert (record.status, record.attempts, record.synced_version, record.last_error) == (
        SyncStatus.SYNCED,
        1,
        1,
        "",
    )
    assert len(webhook_target.received) == 2
    assert webhook_target.received[1].headers["idempotency-key"] == record.idempotency_key


def test_replay_sends_a_synced_record_again(
    client, admin_user, webhook_target, celery_eager, django_capture_on_commit_callbacks
):
    (record,) = enqueue_sync(LeadFactory())
    deliver(record.pk)
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(CHANGELIST, {"action": "replay_selected", "_selected_action": [record.pk]})
    record.refresh_from_db()
    assert (record.status, record.synced_version) == (SyncStatus.SYNCED, 1)
    assert len(webhook_target.received) == 2


def test_staff_without_the_replay_permission_cannot_replay(
    client, manager, webhook_target, celery_eager, django_capture_on_commit_callbacks
):
    # given a staff member who may only view sync records
    manager.user_permissions.add(Permission.objects.get(codename="view_crmsyncrecord"))
    record = dead_record(webhook_target)
    client.force_login(manager)
    # when they post the replay action anyway
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(CHANGELIST, {"action": "replay_selected", "_selected_action": [record.pk]})
    # then nothing changes and nothing is sent
    assert response.status_code in (200, 302)
    record.refresh_from_db()
    assert record.status == SyncStatus.DEAD
    assert len(webhook_target.received) == 1
    assert "replay_selected" not in client.get(CHANGELIST).content.decode()


def test_the_list_filters_by_status_and_finds_leads_by_email(
    client, admin_user, webhook_target, django_assert_max_num_queries
):
    dead = dead_record(webhook_target, contact__email="broken@example.com")
    (synced,) = enqueue_sync(LeadFactory(contact__email="fine@example.com"))
    deliver(synced.pk)
    client.force_login(admin_user)

    with django_assert_max_num_queries(12):
        page = client.get(CHANGELIST, {"status__exact": "dead"}).content.decode()
    assert dead.lead.public_id in page and synced.lead.public_id not in page
    assert "HTTP 422" in page  # the last error is visible in the list

    page = client.get(CHANGELIST, {"q": "fine@example.com"}).content.decode()
    assert synced.lead.public_id in page and dead.lead.public_id not in page
    page = client.get(CHANGELIST, {"q": dead.lead.public_id}).content.decode()
    assert dead.lead.public_id in page and synced.lead.public_id not in page


def test_a_record_page_is_read_only(client, admin_user, webhook_target):
    record = dead_record(webhook_target)
    client.force_login(admin_user)
    url = reverse("admin:crm_crmsyncrecord_change", args=[record.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="status"' not in page.content.decode()
    assert "HTTP 422" in page.content.decode()
    # and a forged edit changes nothing
    client.post(url, {"status": "synced", "attempts": 0})
    record.refresh_from_db()
    assert record.status == SyncStatus.DEAD
